"""Build a training run from a Config and carry it out: data, parameters, strategy, optimiser, ledger,
the loop, checkpoints, the summary and plots. `python -m npmlp.train` and the experiment suite call
`run_training`; it returns the summary dict that it also writes to summary.json.
"""
import os
import time

import numpy as np

from . import checkpoint, engine
from .config import validate
from .errors import UserError
from .ledger import Ledger, report_lines
from .metrics import confusion_matrix, label_prediction_ratios, peak_memory_bytes
from .optim import make_optimizer
from .params import init_params, layer_sizes
from .runs import RunDir, default_run_dir
from .strategies import STRATEGIES, get_strategy
from .threads import set_threads


def build_state(cfg, data):
    """A fresh TrainState for `cfg` on `data`; every random choice flows from one Generator."""
    rng = np.random.default_rng(cfg.seed)
    sizes = layer_sizes(data.train.X.shape[1], cfg.hidden, data.num_classes)
    params = init_params(sizes, rng, cfg.init, cfg.init_std, np.dtype(cfg.dtype))
    ledger = Ledger(sizes)
    strategy = get_strategy(cfg.method)(cfg, params, ledger)
    optimizer = make_optimizer(cfg, params, sparse_state=strategy.sparse_optimizer_state,
                               ledger=ledger)
    return engine.TrainState(params, optimizer, strategy, ledger, rng)


def load_data(cfg, progress=True):
    from .data import load
    data = load(cfg.dataset, data_dir=cfg.data_dir or None, validation=cfg.validation,
                seed=cfg.seed, standardize=cfg.standardize, limit=cfg.limit or None,
                progress=progress)
    if cfg.dtype != "float32":  # loaders give float32; float64 runs (gradient checks) convert once
        def cast(split):
            return split._replace(X=split.X.astype(cfg.dtype))
        data = data._replace(train=cast(data.train), val=cast(data.val), test=cast(data.test))
    return data


def format_epoch_line(m, epochs):
    s = m["seconds"]
    extra = "".join(f"  {k} {v:.3g}" for k, v in m.items() if k.startswith("stat_"))
    return (f"epoch {m['epoch']:>3}/{epochs}  loss {m['train_loss']:.4f}  "
            f"val {100 * m['val_accuracy']:.2f}%  "
            f"time fwd {s['forward']:.1f}s bwd {s['backward']:.1f}s upd {s['update']:.1f}s "
            f"ovh {s['overhead']:.1f}s eval {s['eval']:.1f}s  "
            f"compute reduction {100 * m['compute_reduction']:.1f}%{extra}")


def run_training(cfg, out=None, resume=False, plot=False, progress=True, log=print):
    """Train `cfg` into the run folder `out` (new, or an existing one with resume=True)."""
    if resume:
        if not out:
            raise UserError("--resume needs --out RUN_FOLDER: the folder of the run to continue.")
        ckpt = os.path.join(out, "checkpoint.npz")
        if not os.path.exists(ckpt):
            raise UserError(f"nothing to resume: {ckpt} does not exist.")
        saved = checkpoint.read_meta(ckpt)["config"]
        cfg = type(cfg).from_json({**saved, "epochs": max(cfg.epochs, saved["epochs"])})
    validate(cfg, tuple(STRATEGIES))
    run = RunDir(out or default_run_dir(cfg))
    run.create(must_be_new=not resume)
    threads = set_threads(cfg.threads)

    log("npmlp config: " + "  ".join(f"{k}={v}" for k, v in cfg.relevant().items()))
    data = load_data(cfg, progress)
    log(f"data: {data.name} from {data.source}: train {data.train.X.shape}, "
        f"val {data.val.X.shape}, test {data.test.X.shape}")
    import kernels
    compile_s = kernels.warmup()
    log(f"kernels compiled/loaded in {sum(compile_s.values()):.2f}s (not counted in epoch times)")

    ts = build_state(cfg, data)
    if resume:
        checkpoint.load_into(run.file("checkpoint.npz"), ts)
        log(f"resumed {run.path} at epoch {ts.epoch} (+{ts.pos} samples), step {ts.step}")
    run.write_json("config.json", cfg.to_json())
    if cfg.epochs < 50:
        log(f"training {cfg.epochs} epoch(s); the paper trains 50: add --epochs 50")

    def on_epoch_end(ts, metrics):
        run.write_metrics(ts.history)
        checkpoint.save(run.file("checkpoint.npz"), ts, cfg)
        log(format_epoch_line(metrics, cfg.epochs))

    def on_interrupt(ts):
        checkpoint.save(run.file("checkpoint.npz"), ts, cfg)
        log(f"\ninterrupted: checkpoint saved at epoch {ts.epoch + 1}, sample {ts.pos}. Continue "
            f"with: python -m npmlp.train --resume --out {run.path}")

    t0 = time.perf_counter()
    try:
        engine.fit(ts, cfg, data, on_epoch_end, on_interrupt, progress=progress)
    except engine.Interrupted:
        return None
    train_seconds = time.perf_counter() - t0

    acc, nll, pred = engine.evaluate(ts.strategy, ts.params, data.test.X, data.test.y,
                                     cfg.eval_batch_size)
    cm = confusion_matrix(data.test.y, pred, data.num_classes)
    summary = {
        "test_accuracy": acc, "test_loss": nll,
        "confusion_matrix": cm,
        "label_prediction_ratios": label_prediction_ratios(data.test.y, pred, data.num_classes),
        "epochs": ts.epoch, "steps": ts.step,
        "ledger": ts.ledger.snapshot(),
        "peak_memory_bytes": peak_memory_bytes(),
        "compile_seconds": compile_s, "threads": threads,
        "wall_seconds_this_session": train_seconds,
        "data_source": data.source, "config": cfg.to_json(),
    }
    run.write_json("summary.json", summary)
    for line in report_lines(summary["ledger"]):
        log(line)
    log(f"test accuracy {100 * acc:.2f}%  (test loss {nll:.4f}); run folder: {run.path}")
    if plot:
        from .plots import plot_confusion, plot_curves
        title = f"{cfg.method} on {cfg.dataset}, hidden {'-'.join(map(str, cfg.hidden))}"
        plot_curves(ts.history, run.file("curves.png"), title)
        plot_confusion(cm, run.file("confusion.png"), title + f": test {100 * acc:.2f}%")
        log(f"plots: {run.file('curves.png')}, {run.file('confusion.png')}")
    return summary
