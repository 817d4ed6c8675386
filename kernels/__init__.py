"""Numba kernels for npmlp. Each module opens with the plain-NumPy reference of every kernel it holds.

    update.py                       fused optimiser updates over rows (SGD, Adam, Adagrad)
    active_forward/backward/weight_grad.py   products restricted to active units (ALSH, dropout)
    crs_norms/sampling/product.py   column-row sampling (MC-APPROX)
    lsh_transforms/hash/dwta/tables/select.py   asymmetric LSH (ALSH-APPROX)
    topk.py, topk_update.py         sparse scoring, exact top-k selection, block products (TOPK)

`warmup()` compiles every kernel on tiny arrays (float32 and float64) before any clock starts and
returns the compile time per module, which the engine reports apart from training time.
"""
import importlib

from . import _jit

MODULES = ("update", "active_forward", "active_backward", "active_weight_grad",
           "crs_norms", "crs_sampling", "crs_product",
           "lsh_transforms", "lsh_hash", "lsh_dwta", "lsh_tables", "lsh_select",
           "topk", "topk_update")


def warmup():
    """Compile every kernel; return {module.function: seconds}."""
    for name in MODULES:  # importing a module registers its warm-up
        importlib.import_module(f"{__name__}.{name}")
    return _jit.run_warmups()
