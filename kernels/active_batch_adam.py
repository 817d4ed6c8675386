"""Adam on the rows a batch-N active-set step touched, each row's gradient formed inside the pass.

The sparse batch-N path (kernels/active_batch.py) has, per layer, the kept (sample, unit) pairs with
their deltas dz and the layer's inputs. Forming the union rows' gradient g (U, D_in) first writes U
rows and Adam then reads them back; this kernel instead builds each visited row's gradient in a
scratch row (L1) and updates that row of W, m, v straight away:

    g_r = sum over the pairs (n, r) of dz_n,r a_n            (EDBT Eq. 1, grad_W = a^{k-1} delta^k)
    m_r = b1 m_r + c1 g_r;  v_r = b2 v_r + c2 g_r^2         (c1 = 1 - b1, c2 = 1 - b2, as in update.py)
    W_r -= step_r m_r / (sqrt(v_r) corr_r + eps)             (kernels/update.py:_adam_row)

Rows are visited as kernels/update.py's Adam visits them (`visit`, and `rowpos[r]` = the row's
position among the union rows or -1 for a row without a gradient), so lazy and dense optimiser
state both work. Shape legend as in kernels/active_batch.py and kernels/update.py; the layer input
is either dense x (N, D_in) (sparse = False) or CSR xptr, xi, xv (sparse = True).
"""
import numpy as np

from ._jit import jit, register_warmup
from .active_batch import _group_pairs
from .update import _adam_row


# ---------------------------------------------------------------------------------------------
# Plain-NumPy reference: form the rows, then kernels/update.py's reference Adam.
# ---------------------------------------------------------------------------------------------

def adam_pairs_reference(W, m, v, dz, x, xptr, xi, xv, sparse, ptr, pos, U, visit, rowpos, step,
                         corr, b1, b2, c1, c2, eps, scratch):
    from .active_batch import sparse_weight_grad_rows_reference, weight_grad_rows_reference
    from .update import adam_ref
    g, db = np.empty((U, W.shape[1]), W.dtype), np.empty(U, W.dtype)
    if sparse:
        sparse_weight_grad_rows_reference(dz, xv, xptr, xi, ptr, pos, g, db)
    else:
        weight_grad_rows_reference(dz, x, ptr, pos, g, db)
    adam_ref(W, m, v, None, None, g, visit, rowpos, step, corr, b1, b2, c1, c2, eps)


# ---------------------------------------------------------------------------------------------
# Kernel
# ---------------------------------------------------------------------------------------------

@jit
def adam_pairs(W, m, v, dz, x, xptr, xi, xv, sparse, ptr, pos, U, visit, rowpos, step, corr, b1,
               b2, c1, c2, eps, scratch):
    start, order, sample = _group_pairs(ptr, pos, U)
    zero = scratch.dtype.type(0)
    D_in = scratch.shape[0]
    for i in range(visit.shape[0]):
        r = visit[i]
        p = rowpos[r]
        scratch[:] = zero
        if p >= 0:
            for q in range(start[p], start[p + 1]):
                k = order[q]
                a = dz[k]
                n = sample[k]
                if sparse:
                    for j in range(xptr[n], xptr[n + 1]):     # grad_W on S_n x J_n, EDBT Eq. 1
                        scratch[xi[j]] += a * xv[j]
                else:
                    xn = x[n]
                    for d in range(D_in):
                        scratch[d] += a * xn[d]
        _adam_row(W, m, v, r, scratch, step[r], corr[r], b1, b2, c1, c2, eps)


REFERENCES = {adam_pairs: adam_pairs_reference}


@register_warmup
def warmup_active_batch_adam():
    """Compile for float32 and float64, dense and sparse inputs."""
    ptr = np.array([0, 2, 3], np.int64)
    pos = np.array([0, 1, 0], np.int64)
    xptr = np.array([0, 1, 3], np.int64)
    xi = np.array([2, 0, 3], np.int64)
    visit = np.array([0, 1, 2], np.int64)
    rowpos = np.array([0, 1, -1], np.int64)
    for dtype in (np.float32, np.float64):
        W, m, v = (np.zeros((3, 4), dtype) for _ in range(3))
        x = np.ones((2, 4), dtype)
        dz, xv = np.ones(3, dtype), np.ones(3, dtype)
        step, corr = np.ones(3, dtype), np.ones(3, dtype)
        one = dtype(0.5)
        for sparse in (False, True):
            adam_pairs(W, m, v, dz, x, xptr, xi, xv, sparse, ptr, pos, 2, visit, rowpos, step, corr,
                       one, one, one, one, one, np.empty(4, dtype))
