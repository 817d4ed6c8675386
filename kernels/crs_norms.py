"""Column-row norm products c_i = |A[:, i]| |B[i, :]|: the weights of norm-proportional CRS (Eq. 6).

Shape legend
    A (m, n) @ B (n, p)   the product to be sampled over its inner dimension n
    c (n,) float64        c_i = |A[:, i]| |B[i, :]|
For MC-APPROX's input gradient dX = dY (N, D_out) @ W (D_out, D_in), c_i = |dY[:, i]| |W[i, :]|: the
pass over W's rows (D_out * D_in elements) is the whole cost and, at batch 20, ~10% of the exact
product it serves (bench/notes_crs.md). A caller that already has one side's norms passes them in
(`a_norms` / `b_norms`) and only the other side is read.

Why the kernels look as they do: both operands reach the kernel C-contiguous. A flag says whether
the n pairs run along its rows (one contiguous sum per pair: W's rows, dY.T's columns) or along its
columns (one streaming pass adding each row into an n-vector: dY's columns). A transposed view is
passed as its C-contiguous transpose with the flag flipped, never copied. Squares are summed in the
operand's dtype (`reassoc` vectorises the sum); norms and products are float64 so float32 inputs
cannot overflow c. (A parallel variant lost to this one on the shared 2-core machine, 11,970 us
against the serial kernel's time in bench/notes_crs.md; it lives in bench/crs_norms_parallel.py.)
"""
import numpy as np

from ._jit import jit, register_warmup
from .cost import Cost

_F64 = 8


# ---------------------------------------------------------------------------------------------
# Plain-NumPy reference

def norm_products_ref(A, B):
    """c (n,) float64 = |A[:, i]| * |B[i, :]|  (EDBT Eq. 6 numerator)."""
    return (np.linalg.norm(A, axis=0).astype(np.float64)
            * np.linalg.norm(B, axis=1).astype(np.float64))


# ---------------------------------------------------------------------------------------------
# Kernels ("u" = the operand as the kernel sees it, C-contiguous)

@jit
def sq_norms(Xu, along_rows, out):
    """out[i] = sum of squares of pair i's entries of Xu (a row if along_rows, else a column)."""
    if along_rows:
        for i in range(Xu.shape[0]):
            acc = Xu.dtype.type(0)
            for j in range(Xu.shape[1]):
                acc += Xu[i, j] * Xu[i, j]
            out[i] = acc
    else:
        out[:] = 0.0
        for i in range(Xu.shape[0]):
            for j in range(Xu.shape[1]):
                out[j] += Xu[i, j] * Xu[i, j]


@jit
def norm_products_kernel(Au, a_rows, Bu, b_rows, a_sq, out):
    """out = |A pairs| * |B pairs|; a_sq (n,) float64 scratch. One pass over each operand."""
    sq_norms(Au, a_rows, a_sq)
    sq_norms(Bu, b_rows, out)
    for i in range(out.shape[0]):
        out[i] = np.sqrt(a_sq[i]) * np.sqrt(out[i])


def pairs_view(X, pairs_on_axis0):
    """(X as C-contiguous, whether its pairs run along rows). A transposed view costs no copy."""
    if X.flags.c_contiguous:
        return X, pairs_on_axis0
    if X.flags.f_contiguous:
        return X.T, not pairs_on_axis0
    return np.ascontiguousarray(X), pairs_on_axis0


def norm_products(A, B, out=None, *, a_norms=None, b_norms=None):
    """c (n,) float64 = |A[:, i]| |B[i, :]|; a_norms / b_norms (n,): one side's norms if known."""
    n = A.shape[1]
    if B.shape[0] != n:
        raise ValueError(f"inner dimensions differ: A {A.shape}, B {B.shape}")
    out = np.empty(n, np.float64) if out is None else out
    if a_norms is not None or b_norms is not None:     # read only the side not given
        known = a_norms if a_norms is not None else b_norms
        Xu, rows = pairs_view(B, True) if a_norms is not None else pairs_view(A, False)
        sq_norms(Xu, rows, out)
        np.sqrt(out, out=out)
        return np.multiply(out, known, out=out)
    Au, a_rows = pairs_view(A, False)
    Bu, b_rows = pairs_view(B, True)
    norm_products_kernel(Au, a_rows, Bu, b_rows, np.empty(n, np.float64), out)
    return out


def norm_products_cost(m, n, p, itemsize, a_known=False, b_known=False):
    """A square-and-add per element read (A: m*n, B: n*p; a known side is skipped), one multiply
    per pair."""
    elems = (0 if a_known else m * n) + (0 if b_known else n * p)
    return Cost(elems + n, elems * itemsize + (n * _F64 if a_known or b_known else 0), n * _F64)


@register_warmup
def warmup():
    """Compile the norm kernels for float32 and float64, pairs along rows and along columns."""
    for dt in (np.float32, np.float64):
        A = np.ones((2, 3), dt)
        B = np.ones((3, 4), dt)
        for a, b in ((A, B), (B.T, A.T)):   # C and F layouts reach both `along_rows` branches
            norm_products(a, b)
            norm_products(a, b, b_norms=np.ones(3))
            norm_products(a, b, a_norms=np.ones(3))
