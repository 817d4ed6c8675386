"""Numba kernels for npmlp. Each module opens with the plain-NumPy reference of every kernel it holds.

`warmup()` compiles every kernel on tiny arrays (float32 and float64) before any clock starts and
returns the compile time per module, which the engine reports apart from training time.
"""
from . import _jit


def warmup():
    """Compile every kernel; return {kernel group: seconds}."""
    from . import update  # noqa: F401  (importing a module registers its warm-up)
    return _jit.run_warmups()
