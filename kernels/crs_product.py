"""The sampled product of column-row sampling: gather the kept pairs, scale them, one small matmul.

    A (m, n) @ B (n, p)  ~=  sum_{t < s} scale_t A[:, idx_t] B[idx_t, :]      (Adelman 2019 Eq. 1)
                          =  (A[:, idx] * scale) (m, s) @ B[idx, :] (s, p)

Shape legend
    A (m, n), B (n, p)    operands, either C- or F-contiguous (dY.T for the weight gradient is F)
    sel                   `CrsSelection` from `crs_sampling.select`: idx (s,), scale (s,) or None
    Ag (m, s), Bg (s, p)  gathered operands, written into caller-allocated flat buffers when given
    out (m, p)            the estimate, overwritten

The scale multiplies whichever gathered side is smaller (min(m, p) * s multiplies), fused into the
gather, never a diagonal matmul (the reference code's k x k diagonal costs O(m k^2)). A gathered
operand keeps its source's orientation: the kernels only ever copy contiguous rows or pick from
contiguous rows, and a transposed view goes to BLAS as a transposed operand at no cost.

One kept pair (or an inner dimension of 1: batch 1's weight gradient dY^T (D_out, 1) @ X (1, D_in))
is an outer product, where BLAS's K = 1 matmul is a measured trap; a Numba loop writes it instead.

`crs_matmul` is the one-call form: select (or replay `sel=`), gather, multiply; the CRS error curves
(npmlp/experiments/crs_curves.py) use it. MC-APPROX calls `crs_sampling.select` and `sampled_matmul`
separately, so the selection is timed and counted as overhead apart from the product.
"""
import numpy as np

from ._jit import jit, register_warmup
from .cost import Cost, matmul_cost
from .crs_sampling import CrsSelection, CrsSpec, select

_IDX = 8  # bytes per int64 index


# ---------------------------------------------------------------------------------------------
# Plain-NumPy references

def gather_rows_ref(X, idx, scale):
    """(s, c) = X[idx, :] * scale[:, None]  (scale None = 1)."""
    return X[idx, :] if scale is None else X[idx, :] * scale[:, None]


def gather_cols_ref(X, idx, scale):
    """(r, s) = X[:, idx] * scale[None, :]  (scale None = 1)."""
    return X[:, idx] if scale is None else X[:, idx] * scale[None, :]


def outer_product_ref(a, b, f):
    """(m, p) = f * outer(a, b): the product when one pair is kept (or the inner dimension is 1)."""
    return f * np.outer(a, b)


def sampled_matmul_ref(A, B, sel):
    """The CRS estimate written as the formula: (A[:, idx] * scale) @ B[idx, :]."""
    if sel.idx is None:
        return A @ B
    return gather_cols_ref(A, sel.idx, sel.scale) @ B[sel.idx, :]


# ---------------------------------------------------------------------------------------------
# Kernels: X C-contiguous, idx any int64 (duplicates fine), out C-contiguous; scale (s,) in X's
# dtype, used only when do_scale (Numba needs an array either way).

@jit
def gather_rows(X, idx, scale, do_scale, out):
    """out (s, c) = X[idx, :] (* scale[:, None]): s contiguous row copies."""
    for t in range(idx.shape[0]):
        r = idx[t]
        if do_scale:
            f = scale[t]
            for j in range(X.shape[1]):
                out[t, j] = X[r, j] * f
        else:
            for j in range(X.shape[1]):
                out[t, j] = X[r, j]


@jit
def gather_cols(X, idx, scale, do_scale, out):
    """out (r, s) = X[:, idx] (* scale[None, :]): s picks from each contiguous row."""
    for i in range(X.shape[0]):
        if do_scale:
            for t in range(idx.shape[0]):
                out[i, t] = X[i, idx[t]] * scale[t]
        else:
            for t in range(idx.shape[0]):
                out[i, t] = X[i, idx[t]]


@jit
def outer_product(a, b, f, out):
    """out (m, p) = f * a (m,) b (p,)^T. BLAS runs a K = 1 matmul at ~1.5 GFLOP/s here
    (performance-facts.md §5.2 item 2); this loop is ~20x faster at 1000 x 1000 (notes_crs.md)."""
    for i in range(a.shape[0]):
        ai = a[i] * f
        for j in range(b.shape[0]):
            out[i, j] = ai * b[j]


def _rank_one(A, B, i, f, out):
    """out = f * A[:, i] B[i, :], with the two vectors made contiguous (m + p elements)."""
    a = np.ascontiguousarray(A[:, i])
    b = np.ascontiguousarray(B[i, :])
    outer_product(a, b, A.dtype.type(f), out)
    return out


def _buffer(buf, size, shape, dtype):
    """A C-contiguous `shape` view on the caller's flat buffer (a new array if it is too small)."""
    if buf is None or buf.size < size or buf.dtype != dtype:
        return np.empty(shape, dtype)
    return buf.reshape(-1)[:size].reshape(shape)


def _gather(X, idx, scale, pairs_on_axis0, buf):
    """X's kept pairs as an array oriented like X (pairs on axis 0 for B, axis 1 for A)."""
    s = len(idx)
    do_scale = scale is not None
    sc = scale if do_scale else np.empty(0, X.dtype)
    if not (X.flags.c_contiguous or X.flags.f_contiguous):
        X = np.ascontiguousarray(X)
    Xu = X if X.flags.c_contiguous else X.T      # C-contiguous; pairs flip axis when transposed
    on_rows = pairs_on_axis0 == X.flags.c_contiguous
    if on_rows:
        out = _buffer(buf, s * Xu.shape[1], (s, Xu.shape[1]), X.dtype)
        gather_rows(Xu, idx, sc, do_scale, out)
    else:
        out = _buffer(buf, Xu.shape[0] * s, (Xu.shape[0], s), X.dtype)
        gather_cols(Xu, idx, sc, do_scale, out)
    return out if X.flags.c_contiguous else out.T


def gather_operands(A, B, sel, a_buf=None, b_buf=None):
    """Ag (m, s) and Bg (s, p) for a non-exact selection, the scale applied on the smaller side."""
    scale = sel.scale
    if scale is not None and scale.dtype != A.dtype:
        scale = scale.astype(A.dtype)          # a selection replayed in another precision
    scale_a = A.shape[0] <= B.shape[1]
    Ag = _gather(A, sel.idx, scale if scale_a else None, False, a_buf)
    Bg = _gather(B, sel.idx, None if scale_a else scale, True, b_buf)
    return Ag, Bg


def sampled_matmul(A, B, sel, out=None, a_buf=None, b_buf=None):
    """out (m, p) = the CRS estimate of A @ B for `sel`; exact when sel.idx is None.

    A single pair (or an inner dimension of 1, e.g. batch 1's weight gradient) is an outer product,
    which goes to `outer_product` instead of BLAS.
    """
    if A.dtype != B.dtype:
        raise TypeError(f"A and B must share a dtype, got {A.dtype} and {B.dtype}")
    if sel.idx is None and A.shape[1] != 1:
        return np.matmul(A, B, out=out)
    if out is None:
        out = np.empty((A.shape[0], B.shape[1]), A.dtype)
    if sel.idx is None:
        return _rank_one(A, B, 0, 1.0, out)
    if len(sel.idx) == 0:
        out[...] = 0
        return out
    if len(sel.idx) == 1:
        return _rank_one(A, B, sel.idx[0], 1.0 if sel.scale is None else sel.scale[0], out)
    Ag, Bg = gather_operands(A, B, sel, a_buf, b_buf)
    return np.matmul(Ag, Bg, out=out)                  # (m, s) @ (s, p)


def crs_workspace(m, p, s_max, dtype):
    """Flat gather buffers (a_buf, b_buf) for products with up to s_max kept pairs.

    Bernoulli-CRS keeps a random number of pairs: size for n to never allocate in the step loop.
    """
    return np.empty(m * s_max, dtype), np.empty(s_max * p, dtype)


def crs_matmul(A, B, k, rng, spec=CrsSpec(), *, sel=None, out=None, a_buf=None, b_buf=None,
               c=None, a_norms=None, b_norms=None):
    """(out, sel): the CRS estimate of A (m, n) @ B (n, p) from k pairs; `sel` replays a choice."""
    if sel is None:
        sel = select(A, B, k, rng, spec, c=c, a_norms=a_norms, b_norms=b_norms)
    elif sel.n != A.shape[1]:
        raise ValueError(f"selection is over {sel.n} pairs but A has inner dimension {A.shape[1]}")
    return sampled_matmul(A, B, sel, out, a_buf, b_buf), sel


# ---------------------------------------------------------------------------------------------
# Costs (from shapes alone)

def gather_cost(m, s, p, itemsize, scaled):
    """Copy s columns of A and s rows of B, read idx (and scale); min(m, p) * s multiplies if
    scaled."""
    sc = s * itemsize if scaled else 0
    return Cost(min(m, p) * s if scaled else 0,
                (m * s + s * p) * itemsize + s * _IDX + sc, (m * s + s * p) * itemsize)


def sampled_matmul_cost(m, n, p, s, itemsize, scaled):
    """Gather + (m, s) @ (s, p); s = n with no gather is the exact product, s = 0 writes zeros."""
    if s >= n:
        return matmul_cost(m, n, p, itemsize)
    if s == 0:
        return Cost(0, 0, m * p * itemsize)
    return gather_cost(m, s, p, itemsize, scaled) + matmul_cost(m, s, p, itemsize)


@register_warmup
def warmup():
    """Compile the gather and outer-product kernels for float32 and float64, scaled and not."""
    idx = np.array([0, 2], np.int64)
    for dt in (np.float32, np.float64):
        A = np.ones((2, 3), dt)
        B = np.ones((3, 4), dt)
        for scale in (None, np.ones(2, dt)):
            sel = CrsSelection(idx, scale, 3)
            sampled_matmul(A, B, sel)
            sampled_matmul(B.T, A.T, sel)   # F-contiguous operands: the other kernel of each side
        sampled_matmul(A, B, CrsSelection(idx[:1], None, 3))          # one pair: outer product
