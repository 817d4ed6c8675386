"""The one place that sets Numba's compilation options for every kernel.

- `cache=True` so a second process loads machine code from disk instead of recompiling. Never put
  `cache=True` on two variants (serial and parallel) of the *same* Python function: Numba's cache key
  ignores the target options (numba#6845, measured in notes/style-anchors.md E1), so the parallel
  variant would silently load the serial code. Parallel kernels are therefore separate functions.
- `fastmath` is an explicit set *without* `nnan` and `ninf`: reassociation lets LLVM vectorise the
  reductions, but NaN/inf must survive so the engine can detect a diverged loss. `jit(reassoc=False)`
  drops reassociation for a kernel whose expression order is part of its accuracy (Adam's second
  moment, kernels/update.py). `jit(strict=True)` drops fastmath altogether (no contraction into
  FMAs, no reciprocal for a division) for a kernel that must round exactly as NumPy and SciPy do,
  operation by operation (the standout calibration, kernels/standout.py).
- `error_model="numpy"`: division by zero gives inf/nan like NumPy instead of raising (no hidden
  branch in inner loops).
- A cache index that no longer unpickles (it names a type that has since moved, e.g. a NamedTuple
  of kernel arguments moved to another module, or a file cut short by an interrupted write) is a
  cache miss: the kernel recompiles and rewrites it. Numba 0.68 raises instead (numba#10434, fix
  proposed in numba PR #10656); `_stale_index_is_a_miss` below applies the same rule.
- Kernels never take jitted functions as arguments (a cache miss in every process, E2) and never use
  Numba's global RNG (not reproducible, E5): randomness arrives as a Generator or pre-drawn arrays.
"""
import pickle
import time

import numba
from numba.core import caching

FASTMATH = frozenset({"reassoc", "contract", "nsz", "arcp", "afn"})

_WARMUPS = []


def _stale_index_is_a_miss(load_index):
    """Wrap IndexDataCacheFile._load_index: an index that fails to unpickle loads as empty."""
    def guarded(self):
        try:
            return load_index(self)
        except (AttributeError, ImportError, EOFError, pickle.UnpicklingError) as e:
            # silent, as Numba is for an index whose source changed (NUMBA_DEBUG_CACHE=1 shows it)
            caching._cache_log("[cache] stale index %r (%s): recompiling", self._index_path, e)
            return {}
    guarded.wrapped = load_index
    return guarded


if not hasattr(caching.IndexDataCacheFile._load_index, "wrapped"):
    caching.IndexDataCacheFile._load_index = _stale_index_is_a_miss(
        caching.IndexDataCacheFile._load_index)


def jit(fn=None, *, parallel=False, reassoc=True, strict=False):
    """`numba.njit` with the project's policy. Use `jit(parallel=True)` only on a dedicated function."""
    fastmath = set(FASTMATH) if reassoc else set(FASTMATH) - {"reassoc"}
    if strict:
        fastmath = False

    def wrap(f):
        return numba.njit(cache=True, fastmath=fastmath, error_model="numpy",
                          nogil=True, parallel=parallel)(f)
    return wrap(fn) if fn is not None else wrap


def register_warmup(fn):
    """Register `fn()` (compiles a module's kernels on tiny arrays) for `kernels.warmup()`."""
    _WARMUPS.append(fn)
    return fn


def run_warmups(modules=None):
    """Call the registered warm-ups (of `modules` only, if given: full module names); return
    {module.function: seconds} so compile time is reported apart."""
    times = {}
    for fn in _WARMUPS:
        if modules is not None and fn.__module__ not in modules:
            continue
        t0 = time.perf_counter()
        fn()
        times[f"{fn.__module__}.{fn.__name__}"] = time.perf_counter() - t0
    return times
