"""Thread counts for every thread pool the engine uses.

Two OpenBLAS copies are loaded once SciPy is imported (numpy's and scipy's). With both at 2 threads on
2 cores, alternating calls between them wait a scheduler tick each (performance-facts.md §5.2 item 4:
8 ms per call pair, 1,638 s instead of 35 s per epoch). So numpy's BLAS gets the requested count and
every other BLAS copy is pinned to one thread; Numba's pool gets the requested count.
"""
import numba
from threadpoolctl import threadpool_info, threadpool_limits

_limits = []


def set_threads(n):
    """Apply `n` threads to numpy's BLAS and Numba, 1 to any other BLAS library. Returns a summary."""
    import numpy  # noqa: F401  (make sure numpy's BLAS is loaded before we look)
    import scipy.linalg  # noqa: F401  (and scipy's, so it is pinned before anyone calls it)
    numpy_dir = numpy.__path__[0]
    limits = {}
    for lib in threadpool_info():
        if lib.get("user_api") != "blas":
            continue
        mine = lib["filepath"].startswith(numpy_dir) or "numpy.libs" in lib["filepath"]
        limits[lib["filepath"]] = n if mine else 1
    _limits.clear()
    _limits.append(threadpool_limits(limits=limits))
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    return {"numpy_blas": n, "other_blas": 1, "numba": numba.get_num_threads()}
