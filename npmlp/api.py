"""The Python API, for notebooks and the tutorial: build a network and a method, step it with every
intermediate traced, train it with the engine.

    from npmlp import api
    net = api.Net(4, 2, hidden=(3, 3), method="dropout", dtype="float64", optimizer="sgd", lr=0.1)
    tr = net.step(x, y, trace=True)     # x (N, 4) float, y (N,) int
    tr.z[0], tr.a[1], tr.delta[0], tr.grads[0].W, tr.sel[0]     # arrays, layer by layer
    summary = api.train(dataset="synthetic", hidden="2x64", epochs=1)   # = python -m npmlp.train

Every keyword is a field of npmlp/config.py, the same names as the command-line flags (`--hidden 3x1000`
is `hidden="3x1000"` or `hidden=(1000, 1000, 1000)`). `python -m npmlp.explain` prints what this module
returns.

This module is the one place outside the engine that calls a strategy's forward/backward, the
optimiser and the strategy's after-step hook: the `_layer_forward`, `_layer_backward`, `_update`
methods of `Net`. A traced step runs exactly those calls, in the engine's order, so what it reports
is what training computes; `Net.step(trace=False)` is `engine.train_step` itself (with its fast
paths).

Shape legend: N batch, D_l width of layer l (D_0 input, D_L classes); W (D_l, D_{l-1}), the paper's
W^l transposed; lists are indexed by layer from 0 (the paper's k = l + 1).
"""
from dataclasses import dataclass, field
from typing import Any, List, NamedTuple, Optional

import numpy as np

from . import engine, reference
from .config import Config, parse_hidden, validate
from .errors import UserError
from .losses import log_softmax_nll
from .strategies import STRATEGIES
from .strategies.active_set import SparseCache
from .strategies.active_batch import BatchCache, pair_delta
from .strategies.base import StepContext


def config(**fields):
    """A validated Config from keyword fields (unknown names and bad values raise UserError)."""
    if isinstance(fields.get("hidden"), (str, int)):
        fields["hidden"] = parse_hidden(fields["hidden"])
    return validate(Config.from_json(fields), tuple(STRATEGIES))


def load(**fields):
    """The dataset `fields` name (config fields dataset, data_dir, validation, limit, ...)."""
    from .runner import load_data
    return load_data(config(**fields), progress=False)


def train(out=None, progress=False, log=print, **fields):
    """Train with the engine exactly as `python -m npmlp.train` does; returns the run summary dict
    (also written to OUT/summary.json; OUT defaults to runs/<dataset>-<method>-b<batch>-<time>)."""
    from .runner import run_training
    return run_training(config(**fields), out=out, progress=progress, log=log)


class Grad(NamedTuple):
    W: np.ndarray   # (D_l, D_{l-1})
    b: np.ndarray   # (D_l,)


@dataclass
class Trace:
    """Everything one step computed, as arrays, layer by layer (index l = layer l + 1 of the paper).

    z[l]      (N, D_l)  pre-activations z = a_in W^T + b, from the input layer l really received,
                        for every unit (a method that computes a subset of units computes these only
                        on its kept units)
    a[l]      (N, D_l)  layer l's output as the method passes it on (masked, scaled); a[-1] = logits
    x         (N, D_0)  the input (a^0)
    delta[l]  (N, D_l)  dL/dz^l as the method backpropagates it (Eq. 1)
    grads[l]  Grad      the method's weight and bias gradient (dense form)
    exact[l]  Grad      exact backpropagation (reference.backprop) on the same weights and input
    numeric[l] Grad     central differences of the method's loss with its random choice frozen
                        (only with numeric=True)
    sel[l]              the strategy's random choice of layer l (None for exact layers)
    crs[l]              MC-APPROX: {"fwd"|"bwd"|"wu": (CrsSelection, probabilities of all pairs)}
    alsh[l]             ALSH-APPROX at batch 1: {"qcodes", "buckets": [units per table], "top"}
    before/after        [(W, b)] copies of the parameters before and after the update
    """
    x: np.ndarray
    y: np.ndarray
    method: str
    loss: float = 0.0
    probs: Optional[np.ndarray] = None
    z: List[np.ndarray] = field(default_factory=list)
    a: List[np.ndarray] = field(default_factory=list)
    delta: List[np.ndarray] = field(default_factory=list)
    grads: List[Grad] = field(default_factory=list)
    exact: List[Grad] = field(default_factory=list)
    numeric: List[Grad] = field(default_factory=list)
    sel: List[Any] = field(default_factory=list)
    crs: List[dict] = field(default_factory=list)
    alsh: List[dict] = field(default_factory=list)
    before: List[tuple] = field(default_factory=list)
    after: List[tuple] = field(default_factory=list)


class Net:
    """A network, its strategy (the method) and optimiser, built as `npmlp.train` builds them.

    Net(n_inputs, n_classes, **fields): parameters drawn from `seed` by the run's own builder
    (runner.build_state), so the same fields give the same starting weights as a training run."""

    def __init__(self, n_inputs, n_classes, **fields):
        from .data.dataset import Dataset, Split
        from .runner import build_state
        self.cfg = config(**fields)
        dt = np.dtype(self.cfg.dtype)
        empty = Split(np.zeros((0, int(n_inputs)), dt), np.zeros(0, np.int64))
        shape_only = Dataset("api", int(n_classes), (int(n_inputs),), empty, empty, empty, "api")
        self.ts = build_state(self.cfg, shape_only)

    @classmethod
    def from_run(cls, run_dir, **fields):
        """The trained weights of a run folder's checkpoint.npz in a network built from its
        config.json with `fields` changed (e.g. another method). The strategy is built anew on the
        loaded weights (ALSH hashes them); the optimiser starts fresh. Returns (net, run config)."""
        import os
        from . import checkpoint
        ckpt = os.path.join(run_dir, "checkpoint.npz")
        if not os.path.isfile(ckpt):
            raise UserError(f"{run_dir} is not a run folder with a checkpoint.npz: pass the folder "
                            f"`python -m npmlp.train` wrote (runs/NAME)")
        saved = checkpoint.read_meta(ckpt)["config"]
        run_cfg = Config.from_json(saved)
        fields = {**saved, **fields, "hidden": run_cfg.hidden}
        with np.load(ckpt) as z:
            arrays = [(z[f"param.{i}.W"], z[f"param.{i}.b"])
                      for i in range(len(run_cfg.hidden) + 1)]
        net = cls(arrays[0][0].shape[1], arrays[-1][0].shape[0], **fields)
        for p, (W, b) in zip(net.params, arrays):
            p.W[...] = W
            p.b[...] = b
        net._rebuild_strategy()
        return net, run_cfg

    def _rebuild_strategy(self):
        """A fresh strategy on the current parameters (after they were replaced)."""
        from .strategies import get_strategy
        self.ts.strategy = get_strategy(self.cfg.method)(self.cfg, self.params, self.ts.ledger)

    @property
    def params(self):
        return self.ts.params

    @property
    def strategy(self):
        return self.ts.strategy

    @property
    def sizes(self):
        return [self.params[0].W.shape[1]] + [p.W.shape[0] for p in self.params]

    # --- the adapter: the only calls into the strategy and optimiser contract ---------------------
    def _context(self, rng, n):
        """This step's StepContext (strategies/base.py): generator, batch size, step number."""
        return StepContext(rng, n, self.ts.step + 1)

    def _layer_forward(self, l, a, ctx, sel=None):
        return self.strategy.forward(l, a, self.params[l], ctx, sel=sel)

    def _layer_backward(self, l, dout, cache, ctx):
        return self.strategy.backward(l, dout, cache, ctx, need_dx=l > 0)

    def _update(self, grads, ctx):
        self.ts.optimizer.step(self.params, grads, self.cfg.lr)   # the engine's lr without schedule
        self.ts.step += 1
        self.strategy.after_step(ctx, self.params)

    # --- steps ----------------------------------------------------------------------------------
    def _check(self, x, y):
        x = np.ascontiguousarray(np.atleast_2d(x), dtype=self.params[0].W.dtype)
        y = np.atleast_1d(np.asarray(y, dtype=np.int64))
        if x.shape[1] != self.sizes[0] or x.shape[0] != y.shape[0]:
            raise UserError(f"x must be (N, {self.sizes[0]}) with one label per row in y; got x "
                            f"{x.shape} and y {y.shape}")
        if y.min() < 0 or y.max() >= self.sizes[-1]:
            raise UserError(f"labels must be in 0..{self.sizes[-1] - 1}; got {y.tolist()}")
        return x, y

    def loss(self, x, y, sels=None):
        """The training-mode loss of (x, y); `sels` (a trace's .sel) freezes the random choice."""
        x, y = self._check(x, y)
        a, ctx = x, self._context(np.random.default_rng(0), x.shape[0])
        for l in range(len(self.params)):
            a, _ = self._layer_forward(l, a, ctx, None if sels is None else sels[l])
        return log_softmax_nll(a, y)[0]

    def step(self, x, y, trace=False, update=True, numeric=False):
        """One training step on (x, y). trace=False: the engine's own step (engine.train_step);
        returns the loss. trace=True: the same calls, recorded; returns a Trace. update=False
        computes everything but leaves parameters and optimiser untouched; numeric=True adds
        central-difference gradients (float64 networks; a few forward passes per weight)."""
        x, y = self._check(x, y)
        if not trace:
            if not update:
                raise UserError("step(trace=False, update=False) computes nothing: pass trace=True")
            return engine.train_step(self.ts, x, y)
        return self._traced_step(x, y, update, numeric)

    def _traced_step(self, x, y, update, numeric):
        tr = Trace(x, y, self.cfg.method)
        tr.before = [(p.W.copy(), p.b.copy()) for p in self.params]
        ctx = self._context(self.ts.rng, x.shape[0])
        crs = _record_crs(self.strategy, len(self.params))
        try:
            a, caches = x, []
            for l, layer in enumerate(self.params):
                tr.z.append(a @ layer.W.T + layer.b)              # EDBT §4 on every unit
                a, cache = self._layer_forward(l, a, ctx)
                tr.a.append(a)
                caches.append(cache)
                tr.sel.append(cache.sel)
                tr.alsh.append(_alsh_buckets(self.strategy, l, tr.z[l]))
            tr.loss, dout = log_softmax_nll(a, y)                  # always exact
            grads, tr.delta = [None] * len(caches), [None] * len(caches)
            for l in reversed(range(len(caches))):
                tr.delta[l] = self._delta(l, dout, caches[l])
                dout, grads[l] = self._layer_backward(l, dout, caches[l], ctx)
        finally:
            tr.crs = crs.stop()
        tr.probs = reference.softmax(a)
        tr.grads = [Grad(*g.dense(p.W.shape[0])) for g, p in zip(grads, self.params)]
        act = reference.activation(self.cfg.activation, self.cfg.leaky_slope)
        _, dWs, dbs, *_ = reference.backprop([W for W, _ in tr.before], [b for _, b in tr.before],
                                             x, y, act)
        tr.exact = [Grad(W, b) for W, b in zip(dWs, dbs)]
        if numeric:
            f = lambda: self.loss(x, y, tr.sel)       # noqa: E731  the method's loss, choice frozen
            tr.numeric = [Grad(reference.numerical_gradient(f, p.W),
                               reference.numerical_gradient(f, p.b)) for p in self.params]
        if update:
            self._update(grads, ctx)
        tr.after = [(p.W.copy(), p.b.copy()) for p in self.params]
        return tr

    def _delta(self, l, dout, cache):
        """dL/dz of layer l (N, D_l) as the strategy's backward forms it from the upstream dout."""
        s = self.strategy
        if isinstance(cache, SparseCache):          # batch-1 active set: kept units only
            if s.is_output(l):
                return dout
            idx, d = cache.sel.idx, np.zeros_like(dout)
            d[0, idx] = s.act_backward(dout[0, idx] * cache.sel.scale, cache.act)
            return d
        if isinstance(cache, BatchCache):           # batch-N active sets: kept pairs only
            d = np.zeros_like(dout)
            d[cache.sets.sample, cache.sets.ids] = pair_delta(dout, cache, s.act_backward)
            return d
        if isinstance(cache.sel, np.ndarray):       # batch-N mask (with its scale)
            dout = dout * cache.sel
        return s.delta(l, dout, cache)


# ---------------------------------------------------------------- what a sampling method chose

class _record_crs:
    """While installed, records MC-APPROX's column-row choices with the probabilities of every pair
    (kernels/crs_sampling.py:crs_probabilities, EDBT Eq. 6-7). A no-op for other strategies."""

    def __init__(self, strategy, n_layers):
        self.records = [dict() for _ in range(n_layers)]
        self.strategy = strategy
        self.inner = getattr(strategy, "_select", None) if hasattr(strategy, "spec") else None
        if self.inner is not None:
            strategy._select = self._select

    def _select(self, which, l, A, B, rho, k_min, *rest):
        from kernels.crs_norms import norm_products
        from kernels.crs_sampling import crs_probabilities
        from .strategies.mc import sample_count
        sel = self.inner(which, l, A, B, rho, k_min, *rest)
        if sel is not None:
            k = sample_count(rho, k_min, A.shape[1])
            c = norm_products(np.ascontiguousarray(A), np.ascontiguousarray(B))
            prob = None       # every c_i = 0 or nnz(c) <= k: nothing was drawn
            if np.count_nonzero(c) > k:
                prob = crs_probabilities(c, k, self.strategy.spec, A.shape[1])
            self.records[l][which] = (sel, prob)
        return sel

    def stop(self):
        if self.inner is not None:
            del self.strategy._select          # back to the class's method
        return self.records


def _alsh_buckets(strategy, l, z):
    """ALSH-APPROX, batch 1, hidden layer l: the bucket each table's query hit, the units in each,
    and the true top-tau units by z (what the hash tables try to find, EDBT Eq. 4)."""
    index = getattr(strategy, "index", None)
    if index is None or l >= len(index) or z.shape[0] != 1:
        return {}
    ix, tau = index[l], strategy.tau[l]
    buckets = [np.flatnonzero(ix.codes[t] == ix.qcodes[t]) for t in range(ix.codes.shape[0])]
    top = np.sort(np.argsort(-z[0], kind="stable")[:tau])
    return {"qcodes": ix.qcodes.copy(), "buckets": buckets, "top": top}
