"""Build a training run from a Config and carry it out: data, parameters, strategy, optimiser, ledger,
the loop, checkpoints, the summary and plots. `python -m npmlp.train` and the experiment suite call
`run_training`; it returns the summary dict that it also writes to summary.json.

Importing this module is light (no NumPy, SciPy or Numba): `python -m npmlp.train` prints the resolved
config within a second or two of starting, and the heavy modules load after it (imported where used).
"""
import os
import time

from .config import METHODS, check_memory, config_lines, resolve, validate, wrap
from .errors import TrainingDiverged, UserError
from .expectations import warnings_for
from .runs import RunDir, default_run_dir


def build_state(cfg, data):
    """A fresh TrainState for `cfg` on `data`; every random stream derives from cfg.seed (seeds.py)."""
    import numpy as np

    from . import engine
    from .ledger import Ledger
    from .optim import make_optimizer
    from .params import init_params, layer_sizes
    from .seeds import main_generator
    from .strategies import get_strategy
    rng = main_generator(cfg.seed)
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
            + (f"fused {s['fused']:.1f}s  " if s.get("fused") else "") +
            f"compute reduction {100 * m['compute_reduction']:.1f}%{extra}")


# What --resume may change: these do not alter the trained model or its random stream.
RESUMABLE = ("epochs", "threads", "eval_batch_size", "data_dir")


def _resume_config(cfg, out, given):
    """The stored run's config, with the options that may change on resume taken from `given`."""
    if not out:
        raise UserError("--resume needs --out RUN_FOLDER: the folder of the run to continue.")
    ckpt = os.path.join(out, "checkpoint.npz")
    if not os.path.exists(ckpt):
        raise UserError(f"nothing to resume: {ckpt} does not exist.")
    from . import checkpoint
    saved = checkpoint.read_meta(ckpt)["config"]
    stored = type(cfg).from_json(saved)
    if given is None:    # a complete config (the experiment suite): it may only change RESUMABLE
        given = {k: getattr(cfg, k) for k in RESUMABLE}
    conflicts = [k for k, v in given.items() if k not in RESUMABLE and v != getattr(stored, k)]
    if conflicts:
        flags = ", ".join(f"--{k.replace('_', '-')} {given[k]!r} (stored: {getattr(stored, k)!r})"
                          for k in conflicts)
        raise UserError(f"--resume continues the run stored in {out}; it cannot change {flags}. "
                        f"Drop those flags, or start a new run with another --out. Only "
                        f"{', '.join('--' + k.replace('_', '-') for k in RESUMABLE)} may change.")
    changes = {k: given[k] for k in RESUMABLE if k in given}
    if "epochs" in changes:
        changes["epochs"] = max(changes["epochs"], stored.epochs)
    return stored.with_(**changes)


def _compile(cfg, log, stage):
    """Compile (or load) the kernels this run uses, saying so first when it will take a while."""
    import kernels
    modules = kernels.needed(cfg.method, **{k: v for k, v in cfg.to_json().items() if k != "method"})
    cold, seconds = kernels.compile_estimate(modules)
    stage["now"] = "while compiling kernels (the next run compiles again what was not finished)"
    if cold:
        log(f"compiling kernels (first run only, ~{seconds} s): {', '.join(cold)}")
    compile_s = kernels.warmup(modules)
    log(f"kernels compiled/loaded in {sum(compile_s.values()):.2f}s (not counted in epoch times)")
    return compile_s


def hogwild_note(cfg):
    return (f"note: --hogwild {cfg.hogwild}: {cfg.hogwild} threads update the shared weights "
            f"without locks (npmlp/hogwild.py); this run is NOT bit-reproducible: the same seed "
            f"gives a different run each time.")


def run_training(cfg, out=None, resume=False, plot=False, progress=True, log=print, given=None,
                 stage=None):
    """Train `cfg` into the run folder `out` (new, or an existing one with resume=True).

    `given`: the options the user set explicitly (the CLI passes them): methods then start at the
    paper's setting for what was not given, and --resume refuses changes to anything but RESUMABLE.
    `stage`: a dict whose "now" (and "kept") say what was going on, for the Ctrl-C message. The run
    folder is created only once the data is loaded, the network fits in memory and the kernels are
    compiled, so a run that cannot start leaves nothing behind."""
    stage = stage if stage is not None else {}
    if resume:
        cfg = _resume_config(cfg, out, given)
    cfg, notes, lines = resolve(cfg, None if resume else given)
    validate(cfg, METHODS)
    run = RunDir(out or default_run_dir(cfg))
    run.check(must_be_new=not resume)

    hogwild = [hogwild_note(cfg)] if cfg.hogwild else []
    for line in config_lines(cfg, notes) + [w for text in lines + warnings_for(cfg) + hogwild
                                            for w in wrap(text)]:
        log(line)
    stage["now"] = "while loading NumPy, SciPy and Numba"
    from . import checkpoint, engine
    from .ledger import report_lines
    from .metrics import confusion_matrix, label_prediction_ratios, peak_memory_bytes
    from .threads import set_threads
    threads = set_threads(cfg.threads)
    stage["now"] = "while loading the data"
    stage["kept"] = "files fetched completely stay in the cache; nothing else was written"
    data = load_data(cfg, progress)
    for line in wrap(f"data: {data.name} from {data.source}: train {data.train.X.shape}, "
                     f"val {data.val.X.shape}, test {data.test.X.shape}"):
        log(line)
    n = data.train.X.shape[0]
    if cfg.batch_size > n:
        raise UserError(f"--batch-size {cfg.batch_size} is larger than the training set ({n} "
                        f"samples); choose at most {n}.")
    check_memory(cfg, data.train.X.shape[1], data.num_classes)
    stage["kept"] = "nothing was written"
    compile_s = _compile(cfg, log, stage)

    ts = build_state(cfg, data)
    run.create(must_be_new=not resume)
    if resume:
        checkpoint.load_into(run.file("checkpoint.npz"), ts)
        log(f"resumed {run.path} at epoch {ts.epoch} (+{ts.pos} samples), step {ts.step}")
    run.write_json("config.json", cfg.to_json())
    stage["now"] = "during training (a second Ctrl-C stops at once)"
    stage["kept"] = f"{run.path} holds config.json" + (" and the checkpoint it resumed" if resume else "")
    if cfg.epochs < 50:
        log(f"training {cfg.epochs} epoch(s); the paper trains 50: add --epochs 50")

    def on_epoch_end(ts, metrics):
        run.write_metrics(ts.history)
        checkpoint.save(run.file("checkpoint.npz"), ts, cfg)
        stage["kept"] = (f"the checkpoint of epoch {ts.epoch} is in {run.path}; continue with: "
                         f"python -m npmlp.train --resume --out {run.path}")
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
    except TrainingDiverged as e:
        kept = (f"The last good checkpoint, {run.file('checkpoint.npz')}, is kept."
                if os.path.exists(run.file("checkpoint.npz"))
                else f"No epoch finished, so no checkpoint was written; {run.path} holds config.json.")
        raise TrainingDiverged(f"{e} {kept}") from None
    train_seconds = time.perf_counter() - t0

    stage["now"] = "during the final evaluation"
    stage["kept"] = (f"training finished and its checkpoint is in {run.path}; evaluate it with: "
                     f"python -m npmlp.train --resume --out {run.path}")
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
        **({"hogwild": hogwild_note(cfg)} if cfg.hogwild else {}),
    }
    run.write_json("summary.json", summary)
    for line in report_lines(summary["ledger"]):
        log(line)
    log(f"test accuracy {100 * acc:.2f}%  (test loss {nll:.4f}); run folder: {run.path}")
    if plot:
        stage["now"] = "while writing the plots"
        stage["kept"] = f"the run is complete in {run.path} (summary.json, checkpoint.npz)"
        from .config import hidden_text
        from .plots import class_names, plot_confusion, plot_curves
        title = f"{cfg.method} on {cfg.dataset}, hidden {hidden_text(cfg.hidden)}"
        plot_curves(ts.history, run.file("curves.png"), title)
        plot_confusion(cm, run.file("confusion.png"), title + f": test {100 * acc:.2f}%",
                       labels=class_names(cfg.dataset, data.num_classes))
        log(f"plots: {run.file('curves.png')}, {run.file('confusion.png')}")
    return summary
