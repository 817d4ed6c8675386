"""Numba kernels for npmlp. Each module opens with the plain-NumPy reference of every kernel it holds.

    update.py                       fused optimiser updates over rows (SGD, Adam, Adagrad)
    fused_step.py                   a whole batch-1 step, a chunk of steps per call (npmlp/fastpath.py)
    fused_adaptive.py               the same for ADAPTIVE-DROPOUT (every z, calibrated keep, then S)
    fused_lsh.py                    ALSH's hashing and selection inside the fused step (every policy)
    fused_loss.py                   one sample's log-softmax + NLL in NumPy's summation order (both chunks)
    active_forward/backward/weight_grad.py   products restricted to active units (ALSH, dropout)
    active_batch.py                 the same at batch N with a ragged set per sample (CSR)
    active_batch_lsh.py             ALSH-APPROX's batch-N hashing and selection in one call
    active_batch_adam.py            Adam on the rows a batch-N step touched, gradients formed inside
    crs_norms/sampling/product.py   column-row sampling (MC-APPROX)
    lsh_transforms/hash/dwta/tables/select.py   asymmetric LSH (ALSH-APPROX)
    lsh_rebuild.py                  a layer's table rebuild in one compiled call (ALSH-APPROX)
    topk.py, topk_update.py         sparse scoring, exact top-k selection, block products (TOPK)
    standout.py                     ADAPTIVE-DROPOUT's keep probabilities, beta calibrated (both paths)

`warmup(modules)` compiles (or loads from Numba's disk cache) the kernels of the named modules on tiny
arrays before any clock starts and returns the compile time per module, which the engine reports apart
from training time. `needed(method, ...)` names the modules a run uses, from the table NEEDS below, so
a run compiles only what it runs; `compile_estimate(modules)` says whether that will take long.
"""
import glob
import importlib
import os

from . import _jit

MODULES = ("update", "active_forward", "active_backward", "active_weight_grad", "fused_loss", "fused_step",
           "active_batch", "active_batch_lsh", "active_batch_adam",
           "crs_norms", "crs_sampling", "crs_product",
           "lsh_transforms", "lsh_hash", "lsh_dwta", "lsh_tables", "lsh_select", "lsh_rebuild", "fused_lsh",
           "topk", "topk_update", "fused_topk", "standout", "fused_adaptive")

def _batch_n(batch_size):
    """A batch-N run (batch_size > 1), or one whose batch size is not given."""
    return batch_size is None or batch_size > 1


# Which kernel modules a run needs: (method or "*", module, {setting: condition} that must all hold).
# Settings are the run's options (npmlp passes every field of its Config: batch_size, optimizer,
# alsh_hash, ...); a condition is a value to equal or a predicate, e.g. {"batch_size": 1} or
# {"batch_size": lambda b: b > 1}. Registering a module for a method is one line here.
NEEDS = (
    ("*", "update", {}),
    ("dropout", "active_forward", {}),
    ("dropout", "active_backward", {}),
    ("adaptive-dropout", "active_forward", {}),
    ("adaptive-dropout", "active_backward", {}),
    ("adaptive-dropout", "standout", {}),
    ("alsh-approx", "active_forward", {}),
    ("alsh-approx", "active_backward", {}),
    ("alsh-approx", "lsh_transforms", {}),
    ("alsh-approx", "lsh_hash", {}),
    ("alsh-approx", "lsh_tables", {}),
    ("alsh-approx", "lsh_select", {}),
    ("alsh-approx", "lsh_dwta", {"alsh_hash": "dwta"}),
    ("alsh-approx", "lsh_rebuild", {}),     # compiles lsh_dwta's row kernel too (a callee)
    # batch N: the ragged per-sample kernels, active_union, ALSH's compiled batch selection
    # (_batch_n: batch_size > 1, or not given)
    ("dropout", "active_batch", {"batch_size": _batch_n}),
    ("dropout", "active_weight_grad", {"batch_size": _batch_n}),
    ("adaptive-dropout", "active_batch", {"batch_size": _batch_n}),
    ("adaptive-dropout", "active_weight_grad", {"batch_size": _batch_n}),
    ("alsh-approx", "active_batch", {"batch_size": _batch_n}),
    ("alsh-approx", "active_weight_grad", {"batch_size": _batch_n}),
    ("alsh-approx", "active_batch_lsh", {"batch_size": _batch_n}),
    ("dropout", "active_batch_adam", {"batch_size": _batch_n, "optimizer": "adam"}),
    ("adaptive-dropout", "active_batch_adam", {"batch_size": _batch_n, "optimizer": "adam"}),
    ("alsh-approx", "active_batch_adam", {"batch_size": _batch_n, "optimizer": "adam"}),
    ("mc-approx", "crs_norms", {}),
    ("mc-approx", "crs_sampling", {}),
    ("mc-approx", "crs_product", {}),
    # the fused batch-1 step (npmlp/fastpath.py); it calls the active-set, update and LSH kernels
    ("standard", "fused_loss", {"batch_size": 1, "fast_path": "auto"}),  # used by fused_step and
    ("dropout", "fused_loss", {"batch_size": 1, "fast_path": "auto"}),   # fused_topk
    ("alsh-approx", "fused_loss", {"batch_size": 1, "fast_path": "auto"}),
    ("topk", "fused_loss", {"batch_size": 1, "fast_path": "auto"}),
    ("adaptive-dropout", "fused_loss", {"batch_size": 1, "fast_path": "auto"}),
    ("standard", "fused_step", {"batch_size": 1, "fast_path": "auto"}),
    ("dropout", "fused_step", {"batch_size": 1, "fast_path": "auto"}),
    ("alsh-approx", "fused_lsh", {"batch_size": 1, "fast_path": "auto"}),   # before its caller
    ("alsh-approx", "fused_step", {"batch_size": 1, "fast_path": "auto"}),
    ("topk", "fused_topk", {"batch_size": 1, "fast_path": "auto"}),   # TOPK's chunk (fastpath.py)
    ("adaptive-dropout", "fused_adaptive", {"batch_size": 1, "fast_path": "auto"}),   # its chunk
)

# Seconds to compile each module from scratch on this project's 2-core machine: `kernels.warmup()` with
# an empty NUMBA_CACHE_DIR, 2026-12-01, load average 1.9 from other processes (loading the same modules
# from a warm cache took 2.2 s in all). Only used for the "compiling kernels (~N s)" message; a module
# missing here counts 10 s.
COLD_SECONDS = {"update": 6, "active_forward": 14, "active_backward": 7, "active_weight_grad": 10,
                "crs_norms": 5, "crs_sampling": 1, "crs_product": 2, "lsh_transforms": 1,
                "lsh_hash": 3, "lsh_dwta": 5, "lsh_tables": 1, "lsh_select": 6,
                # from an empty cache at load average 1.6, after the lsh_* modules above (20.2 s,
                # 1.26x their figures): lsh_rebuild 3.0 s, fused_lsh 9.8 s; scaled by 1 / 1.26
                "lsh_rebuild": 2, "fused_lsh": 8,
                # measured 74 s at load average 11 (first DROPOUT run after the merge); the other
                # modules compiled ~2.5x faster on the quiet machine, hence ~30 s
                "fused_step": 30, "fused_loss": 1,
                # measured 12.6, 6.5 and 2.3 s at load 9-11, where the modules above took 2.6x their
                # figure here (update 16.2, active_forward 40.7 s), so scaled by 1 / 2.6
                "active_batch": 5, "active_batch_lsh": 3, "active_batch_adam": 1,
                # 33.5 s from an empty cache (its topk, topk_update and loss callees included), 6 s
                # with those compiled, load average 1.9
                "fused_topk": 33,
                # 5.1 s from an empty cache at load average 4.4 (its fused_loss callee included)
                "standout": 5,
                # 37 s at load average 4.6-5.7 with its callees compiled, where update and
                # active_forward took 8x and 6x their figures here (48.8 s, 86.2 s), so ~6 s
                "fused_adaptive": 6}


def needed(method, **settings):
    """The kernel modules a run of `method` with `settings` uses (in NEEDS order, no repeats)."""
    out = []
    for who, module, when in NEEDS:
        if who in ("*", method) and all(v(settings.get(k)) if callable(v) else settings.get(k) == v
                                        for k, v in when.items()):
            if module not in out:
                out.append(module)
    return tuple(out)


def _cache_dirs():
    """Where Numba keeps the index files (.nbi) of this package, as its cache locators place them:
    NUMBA_CACHE_DIR/<kernels_sha1-of-folder> if set, else __pycache__ beside the sources, else the
    user-wide cache folder (when __pycache__ is not writable)."""
    from numba.core import caching, config
    here = os.path.dirname(os.path.abspath(__file__))
    sub = caching._CacheLocator.get_suitable_cache_subpath(os.path.join(here, "_jit.py"))
    if config.CACHE_DIR:
        return [os.path.join(config.CACHE_DIR, sub)]
    dirs = [os.path.join(here, "__pycache__")]
    try:
        from numba.misc.appdirs import AppDirs
        dirs.append(os.path.join(AppDirs(appname="numba", appauthor=False).user_cache_dir, sub))
    except ImportError:
        pass
    return dirs


def is_cached(module):
    """True when Numba's cache holds an index file for `module` at least as new as its source: then
    warm-up loads machine code instead of compiling (a heuristic: the index is what Numba checks first)."""
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), module + ".py")
    src_time = os.path.getmtime(src) if os.path.exists(src) else 0
    for folder in _cache_dirs():
        index = glob.glob(os.path.join(folder, f"{module}.*.nbi"))
        if index and min(os.path.getmtime(p) for p in index) >= src_time:
            return True
    return False


def compile_estimate(modules):
    """(modules that must be compiled, estimated seconds) for warmup(modules)."""
    cold = tuple(m for m in modules if not is_cached(m))
    return cold, sum(COLD_SECONDS.get(m, 10) for m in cold)


def warmup(modules=MODULES):
    """Compile the kernels of `modules` (default: every module); return {module.function: seconds}."""
    for name in modules:  # importing a module registers its warm-up
        importlib.import_module(f"{__name__}.{name}")
    return _jit.run_warmups(tuple(f"{__name__}.{m}" for m in modules))
