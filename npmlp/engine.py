"""The one training loop. Every method runs through it; methods differ only in their strategy.

    for each batch:
        ctx = StepContext(rng, N, step)
        a = x
        for each layer l:   a, cache_l = strategy.forward(l, a, params[l], ctx)          (EDBT §4)
        loss, delta = log_softmax_nll(a, y)                                              (always exact)
        for l reversed:     delta, grad_l = strategy.backward(l, delta, cache_l, ctx)    (EDBT Eq. 1)
        optimizer.step(params, grads, lr)          the only writer of parameters and optimiser state
        strategy.after_step(ctx, params)

Shape legend: N batch, D_0 input width, C classes; x (N, D_0) float, y (N,) int64.
"""
import math
import signal
from dataclasses import dataclass, field
from typing import Any, List, Optional

import numpy as np
from tqdm import tqdm

from . import fastpath
from .errors import TrainingDiverged, UserError
from .losses import log_softmax, log_softmax_nll
from .optim import lr_factor
from .strategies.base import StepContext


@dataclass
class TrainState:
    """Everything that changes during training; a checkpoint stores exactly this."""
    params: List[Any]
    optimizer: Any
    strategy: Any
    ledger: Any
    rng: np.random.Generator
    epoch: int = 0            # epochs completed
    step: int = 0             # optimiser steps taken
    perm: Optional[np.ndarray] = None  # the current epoch's sample order (None between epochs)
    pos: int = 0              # samples of the current epoch already used
    epoch_loss_sum: float = 0.0
    epoch_batches: int = 0
    history: list = field(default_factory=list)  # one metrics dict per completed epoch


def forward_pass(strategy, params, x, ctx, sels=None):
    """EDBT §4 layer by layer: (logits (N, C), caches). `sels` freezes the strategy's choices."""
    a, caches = x, []
    for l, layer in enumerate(params):
        a, cache = strategy.forward(l, a, layer, ctx, sel=None if sels is None else sels[l])
        caches.append(cache)
    return a, caches


def backward_pass(strategy, delta, caches, ctx, fused=None):
    """Eq. 1 from the output layer down; returns the weight gradients (layer 1 needs no input
    gradient). `fused = (optimizer, params, lr)` takes the one fast path (see train_step)."""
    grads = [None] * len(caches)
    for l in reversed(range(len(caches))):
        if fused is not None and l > 0:
            optimizer, params, lr = fused
            delta, grads[l] = optimizer.backward_and_update(
                l, params[l], strategy.delta(l, delta, caches[l]), caches[l].input, lr)
        else:
            delta, grads[l] = strategy.backward(l, delta, caches[l], ctx, need_dx=l > 0)
    return grads


def forward_backward(strategy, params, x, y, rng, sels=None):
    """One forward and backward pass. Returns (loss, grads, caches); does not update anything."""
    ctx = StepContext(rng, x.shape[0], 0)
    logits, caches = forward_pass(strategy, params, x, ctx, sels)
    loss, delta = log_softmax_nll(logits, y)
    if not math.isfinite(loss):
        return loss, None, caches
    return loss, backward_pass(strategy, delta, caches, ctx), caches


def first_nonfinite_layer(caches, logits_ok):
    """Index of the first layer whose output holds NaN/inf (caches[l+1] holds layer l's output)."""
    for l in range(len(caches) - 1):
        if not np.isfinite(caches[l + 1].input).all():
            return l
    return len(caches) - 1 if not logits_ok else None


def train_step(ts, x, y, lr=None):
    """Forward, backward, update on one batch; returns the loss. `lr` is this step's learning rate
    (default: the configured one; fit passes the schedule's)."""
    opt, strategy, ledger = ts.optimizer, ts.strategy, ts.ledger
    lr = opt.cfg.lr if lr is None else lr
    ctx = StepContext(ts.rng, x.shape[0], ts.step + 1)
    # The one fast path: an exact dense backward whose optimiser can fold the update into the input
    # gradient's pass over W (plain SGD at batch 1, kernels/update.py:sgd_backward_fused). The
    # optimiser then writes W during the backward pass, each layer after its own input gradient.
    fused = (opt, ts.params, lr) if (strategy.exact_dense_backward
                                     and opt.fuses_backward(ctx.batch_size)) else None
    with np.errstate(over="ignore", invalid="ignore"):  # divergence: detected from the loss
        with ledger.phase("forward"):
            logits, caches = forward_pass(strategy, ts.params, x, ctx)
            loss, delta = log_softmax_nll(logits, y)                     # always exact
        if not math.isfinite(loss):
            layer = first_nonfinite_layer(caches, logits_ok=False)
            raise TrainingDiverged(
                f"the loss became {loss} at step {ctx.step} (epoch {ts.epoch + 1}); the first "
                f"layer with non-finite output is layer {layer + 1} of {len(ts.params)}. Try a "
                f"smaller --lr, or --init he / glorot.")
        with ledger.phase("backward"):
            grads = backward_pass(strategy, delta, caches, ctx, fused)
    with ledger.phase("update"):
        opt.step(ts.params, grads, lr)
    ts.step += 1
    strategy.after_step(ctx, ts.params)
    ledger.samples += x.shape[0]
    return loss


def predict_logits(strategy, params, X, batch_size):
    """Inference over X in chunks (exact for every method unless its eval_forward says otherwise)."""
    out = np.empty((X.shape[0], params[-1].W.shape[0]), dtype=params[-1].W.dtype)
    for start in range(0, X.shape[0], batch_size):
        a = X[start:start + batch_size]
        for l, layer in enumerate(params):
            a = strategy.eval_forward(l, a, layer)
        out[start:start + batch_size] = a
    return out


def evaluate(strategy, params, X, y, batch_size):
    """(accuracy as a fraction, mean NLL, predictions)."""
    logits = predict_logits(strategy, params, X, batch_size)
    pred = logits.argmax(axis=1)
    nll = -float(log_softmax(logits.astype(np.float64))[np.arange(len(y)), y].mean())
    return float((pred == y).mean()), nll, pred


class _StopFlag:
    """Ctrl-C sets a flag that the loop reads between steps, so a checkpoint never holds a half-done
    update. A second Ctrl-C interrupts immediately."""

    def __init__(self):
        self.set = False
        self._old = None

    def __enter__(self):
        def handler(signum, frame):
            if self.set:
                raise KeyboardInterrupt
            self.set = True
        try:
            self._old = signal.signal(signal.SIGINT, handler)
        except ValueError:  # not the main thread: no handler, Ctrl-C behaves as usual
            self._old = None
        return self

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


class Interrupted(Exception):
    """Raised after a Ctrl-C once the checkpoint is written."""


def fit(ts, cfg, data, on_epoch_end, on_interrupt, progress=True):
    """Train from `ts` to cfg.epochs. `on_epoch_end(ts, metrics)` writes metrics and the checkpoint;
    `on_interrupt(ts)` writes a mid-epoch checkpoint after Ctrl-C."""
    X, y = data.train.X, data.train.y
    n = X.shape[0]
    if cfg.batch_size > n:
        raise UserError(f"--batch-size {cfg.batch_size} is larger than the training set ({n} "
                        f"samples); choose at most {n}.")
    total_steps = cfg.epochs * -(-n // cfg.batch_size)   # the schedule's horizon: every step of the run
    # The one place the fast path is chosen: chunks of fused compiled steps where this configuration
    # has them (npmlp/fastpath.py), else (or with --fast-path off) the readable step below.
    runner = fastpath.make_runner(ts, cfg) if cfg.fast_path != "off" else None
    with _StopFlag() as stop:
        while ts.epoch < cfg.epochs:
            if ts.perm is None:
                ts.perm = ts.rng.permutation(n)
                ts.pos, ts.epoch_loss_sum, ts.epoch_batches = 0, 0.0, 0
                ts.strategy.start_epoch(ts.epoch, n)
            before = ts.ledger.state()
            bar = tqdm(total=n, initial=ts.pos, desc=f"epoch {ts.epoch + 1}/{cfg.epochs}",
                       unit="sample", leave=False, disable=not progress, mininterval=0.5)
            while ts.pos < n:
                if stop.set:
                    bar.close()
                    on_interrupt(ts)
                    raise Interrupted
                if runner is not None:
                    done = runner.run(ts, X, y, min(n - ts.pos, fastpath.CHUNK), total_steps)
                    bar.update(done)
                    bar.set_postfix(loss=f"{ts.epoch_loss_sum / max(ts.epoch_batches, 1):.4f}",
                                    refresh=False)
                    if done:
                        continue    # else a step the chunk cannot take (a non-finite loss to
                                    # report, ALSH's recall or pool refill): the reference step
                idx = ts.perm[ts.pos:ts.pos + cfg.batch_size]
                lr = cfg.lr * lr_factor(cfg.lr_schedule, ts.step / total_steps)
                loss = train_step(ts, X[idx], y[idx], lr)
                ts.pos += idx.shape[0]
                ts.epoch_loss_sum += loss
                ts.epoch_batches += 1
                bar.update(idx.shape[0])
                if ts.epoch_batches % 200 == 0:
                    bar.set_postfix(loss=f"{ts.epoch_loss_sum / ts.epoch_batches:.4f}", refresh=False)
            bar.close()
            ts.strategy.end_epoch(ts.params)
            with ts.ledger.phase("eval"):
                val_acc, val_loss, _ = evaluate(ts.strategy, ts.params, data.val.X, data.val.y,
                                                cfg.eval_batch_size)
            seconds, reduction = ts.ledger.delta(before)
            metrics = {"epoch": ts.epoch + 1, "train_loss": ts.epoch_loss_sum / ts.epoch_batches,
                       "val_accuracy": val_acc, "val_loss": val_loss, "seconds": seconds,
                       "compute_reduction": reduction, "steps": ts.step,
                       **ts.strategy.epoch_stats()}
            ts.epoch += 1
            ts.perm = None
            ts.history.append(metrics)
            on_epoch_end(ts, metrics)
    return ts
