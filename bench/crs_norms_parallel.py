"""The parallel variant of kernels/crs_norms.py's norm pass, kept for measurement only.

On the shared 2-core machine it lost to the serial kernel (bench/notes_crs.md: 11,970 us; every
parallel region waits for a core another process holds), so nothing in npmlp calls it;
`bench_crs.py test_norms[kernel-parallel]` measures it beside the serial kernel, and
tests/test_kernels_crs.py checks it against the plain-NumPy reference
(kernels/crs_norms.py:norm_products_ref). Only the along-rows passes are split across threads.
"""
import os
import sys

import numpy as np
from numba import prange

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from kernels._jit import jit  # noqa: E402
from kernels.crs_norms import sq_norms, pairs_view  # noqa: E402


# Deliberate Numba specialisation of kernels/crs_norms.py:sq_norms: the same sums of squares with
# the rows split across threads by prange (a serial loop cannot be parallel-compiled in place).
@jit(parallel=True)
def norm_products_parallel_kernel(Au, a_rows, Bu, b_rows, a_sq, out):
    """As `norm_products_kernel`, with the along-rows passes split across threads."""
    if a_rows:
        for i in prange(Au.shape[0]):
            acc = Au.dtype.type(0)
            for j in range(Au.shape[1]):
                acc += Au[i, j] * Au[i, j]
            a_sq[i] = acc
    else:
        sq_norms(Au, False, a_sq)
    if b_rows:
        for i in prange(Bu.shape[0]):
            acc = Bu.dtype.type(0)
            for j in range(Bu.shape[1]):
                acc += Bu[i, j] * Bu[i, j]
            out[i] = acc
    else:
        sq_norms(Bu, False, out)
    for i in range(out.shape[0]):
        out[i] = np.sqrt(a_sq[i]) * np.sqrt(out[i])


def norm_products_parallel(A, B, out=None):
    """c (n,) float64 = |A[:, i]| |B[i, :]| with the parallel kernel."""
    n = A.shape[1]
    out = np.empty(n, np.float64) if out is None else out
    Au, a_rows = pairs_view(A, False)
    Bu, b_rows = pairs_view(B, True)
    norm_products_parallel_kernel(Au, a_rows, Bu, b_rows, np.empty(n, np.float64), out)
    return out
