"""Weight gradient of a layer restricted to its active units: a row-sparse scatter-add.

For z = x W^T + b with W (D_out, D_in), only the K active units have a nonzero gradient dz, so
only their rows of dW are nonzero (EDBT Eq. 1, grad_W = a^k delta^{k+1}, grad_b = delta^{k+1}, with
the paper's W (D_in, D_out); its column j is our row j):
    dW[idx[n, k]] += dz[n, k] * x[n]      db[idx[n, k]] += dz[n, k]       K*D_in MACs per sample
With a sparse input (values xv at the active inputs xi, zeros elsewhere) only the K x J block
dW[idx][:, xi] is nonzero: cost K*J.

Shape legend
    N      batch size                    D_in   inputs of the layer       D_out  units of the layer
    K      active units (outputs)        J      active inputs             U      distinct active units
    dz     (N, K) or (K,): gradient at the active units, in the order of idx
    idx    (K,) shared set, (N, K) per-sample sets; int64 unit ids in [0, D_out), duplicates allowed
    x      (N, D_in) or (D_in,)          xv, xi (N, J) or (J,) values and int64 ids of active inputs
    dW     (R, D_in), db (R,): R = D_out for the dense gradient, R = U for the compact one

The scatter kernels ADD into dW and db (like llm.c's backward functions), so duplicate ids and
units shared between samples accumulate; the caller zeroes what it reads (after a row-sparse
update only the active rows need re-zeroing). The compact gradient (U, D_in) is the same
scatter-add with the positions from `active_union` in place of the unit ids, into a zeroed (U, D_in)
array, so an optimizer update touches only U rows. `weight_grad_compact_1` is the batch-1 compact
form for a set without duplicates: a plain outer product that overwrites out (K, D_in).

Kernels do not check shapes or id ranges. The batch-N scatter first sorts the (sample, unit) pairs
by unit (a counting sort, O(N*K + D_out)), then adds up to four samples' terms per pass over a row.
`weight_grad_scatter_parallel` shares disjoint ranges of rows out among the threads: no two write
the same row and each row sums the same groups in the same order, so it equals the serial kernel
bit for bit.
"""
import numpy as np
from numba import prange

from ._jit import jit, register_warmup
from .cost import Cost

_IDX = 8  # bytes per int64 index
_ROW_BLOCKS = 16  # row ranges of weight_grad_scatter_parallel (a constant: get_num_threads() defeats cache=True)


# ---------------------------------------------------------------------------------------------
# Plain-NumPy references: same signatures as the kernels, obviously correct, used by the tests.
# ---------------------------------------------------------------------------------------------

def weight_grad_scatter_1_reference(dz, x, idx, dW, db):
    np.add.at(dW, idx, np.multiply.outer(dz, x))               # (K,) x (D_in,) -> (K, D_in), summed per id
    np.add.at(db, idx, dz)


def weight_grad_scatter_reference(dz, x, idx, dW, db):
    np.add.at(dW, idx, dz[:, :, None] * x[:, None, :])         # (N, K, D_in) summed into rows idx[n, k]
    np.add.at(db, idx, dz)


def weight_grad_scatter_shared_reference(dz, x, idx, dW, db):
    np.add.at(dW, idx, dz.T @ x)                               # (K, N) @ (N, D_in) -> (K, D_in)
    np.add.at(db, idx, dz.sum(axis=0))


def weight_grad_compact_1_reference(dz, x, out):
    out[:] = np.multiply.outer(dz, x)                          # (K,) x (D_in,) -> (K, D_in)


def sparse_weight_grad_scatter_1_reference(dz, xv, xi, idx, dW, db):
    np.add.at(dW, np.ix_(idx, xi), np.multiply.outer(dz, xv))  # (K,) x (J,) -> (K, J) into dW[idx][:, xi]
    np.add.at(db, idx, dz)


def sparse_weight_grad_scatter_reference(dz, xv, xi, idx, dW, db):
    for n in range(dz.shape[0]):
        sparse_weight_grad_scatter_1_reference(dz[n], xv[n], xi[n], idx[n], dW, db)


def active_union_reference(idx, D_out, rows, pos):
    units, inverse = np.unique(idx, return_inverse=True)       # sorted distinct ids (U,)
    rows[:units.shape[0]] = units
    pos[...] = inverse.reshape(idx.shape)                      # idx == units[pos]
    return units.shape[0]


# ---------------------------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------------------------

@jit
def _pairs_by_row(idx, R):
    """Stable counting sort of the (sample, unit) pairs of idx (N, K) by unit id. Returns start
    (R + 1,) and order (N*K,): the pairs of row r are order[start[r]:start[r + 1]], as n*K + k."""
    N, K = idx.shape
    start = np.zeros(R + 1, np.int64)
    for n in range(N):
        for k in range(K):
            start[idx[n, k] + 1] += 1
    for r in range(R):
        start[r + 1] += start[r]
    fill = start[:R].copy()
    order = np.empty(N * K, np.int64)
    for n in range(N):
        for k in range(K):
            r = idx[n, k]
            order[fill[r]] = n * K + k
            fill[r] += 1
    return start, order


@jit
def _row_sum_pairs(dz, x, order, p0, p1, row):
    """row += sum of dz[n, k] x[n] over the pairs order[p0:p1] (grad_W = a delta, EDBT Eq. 1), four
    pairs per pass over the row, so each row of dW is read and written once per 4 samples that
    share it. Returns the sum of those dz, the row's bias gradient."""
    K = dz.shape[1]
    g = dz.dtype.type(0)
    p = p0
    while p + 4 <= p1:
        q0, q1, q2, q3 = order[p], order[p + 1], order[p + 2], order[p + 3]
        a0, a1, a2, a3 = dz[q0 // K, q0 % K], dz[q1 // K, q1 % K], dz[q2 // K, q2 % K], dz[q3 // K, q3 % K]
        x0, x1, x2, x3 = x[q0 // K], x[q1 // K], x[q2 // K], x[q3 // K]
        for d in range(row.shape[0]):
            row[d] += a0 * x0[d] + a1 * x1[d] + a2 * x2[d] + a3 * x3[d]
        g += a0 + a1 + a2 + a3
        p += 4
    while p < p1:
        q = order[p]
        a = dz[q // K, q % K]
        xn = x[q // K]
        for d in range(row.shape[0]):
            row[d] += a * xn[d]
        g += a
        p += 1
    return g


@jit
def weight_grad_scatter_1(dz, x, idx, dW, db):
    """Batch 1: dW[idx[k]] += dz[k] x, db[idx[k]] += dz[k]; duplicate ids accumulate."""
    for k in range(idx.shape[0]):
        a = dz[k]
        r = idx[k]
        row = dW[r]
        for d in range(x.shape[0]):
            row[d] += a * x[d]
        db[r] += a


@jit
def weight_grad_scatter(dz, x, idx, dW, db):
    """Batch N, per-sample sets idx (N, K): dW[idx[n, k]] += dz[n, k] x[n], db likewise. The pairs
    are first grouped by unit, so a row shared by several samples is read and written once per 4."""
    start, order = _pairs_by_row(idx, dW.shape[0])
    for r in range(dW.shape[0]):
        if start[r + 1] > start[r]:
            db[r] += _row_sum_pairs(dz, x, order, start[r], start[r + 1], dW[r])


@jit(parallel=True)
def weight_grad_scatter_parallel(dz, x, idx, dW, db):
    """`weight_grad_scatter` with the rows of dW cut into _ROW_BLOCKS contiguous ranges shared out
    among the threads: no two threads write the same row, and every row sums the same groups in the
    same order as the serial kernel."""
    R = dW.shape[0]
    start, order = _pairs_by_row(idx, R)
    for t in prange(_ROW_BLOCKS):
        for r in range(t * R // _ROW_BLOCKS, (t + 1) * R // _ROW_BLOCKS):
            if start[r + 1] > start[r]:
                db[r] += _row_sum_pairs(dz, x, order, start[r], start[r + 1], dW[r])


@jit
def weight_grad_scatter_shared(dz, x, idx, dW, db):
    """Batch N, one set idx (K,): dW[idx[k]] += sum_n dz[n, k] x[n]; each row read once per 4 samples."""
    N, D_in = x.shape
    for k in range(idx.shape[0]):
        r = idx[k]
        row = dW[r]
        n = 0
        while n + 4 <= N:
            a0, a1, a2, a3 = dz[n, k], dz[n + 1, k], dz[n + 2, k], dz[n + 3, k]
            x0, x1, x2, x3 = x[n], x[n + 1], x[n + 2], x[n + 3]
            for d in range(D_in):
                row[d] += a0 * x0[d] + a1 * x1[d] + a2 * x2[d] + a3 * x3[d]
            db[r] += a0 + a1 + a2 + a3
            n += 4
        while n < N:
            a = dz[n, k]
            xn = x[n]
            for d in range(D_in):
                row[d] += a * xn[d]
            db[r] += a
            n += 1


@jit
def weight_grad_compact_1(dz, x, out):
    """Batch 1 compact form: out (K, D_in) = outer(dz, x), overwritten; row k belongs to idx[k]."""
    for k in range(dz.shape[0]):
        a = dz[k]
        row = out[k]
        for d in range(x.shape[0]):
            row[d] = a * x[d]


@jit
def sparse_weight_grad_scatter_1(dz, xv, xi, idx, dW, db):
    """Batch 1, sparse input: dW[idx[k], xi[j]] += dz[k] xv[j]; cost K*J."""
    for k in range(idx.shape[0]):
        a = dz[k]
        r = idx[k]
        row = dW[r]
        for j in range(xi.shape[0]):
            row[xi[j]] += a * xv[j]
        db[r] += a


@jit
def sparse_weight_grad_scatter(dz, xv, xi, idx, dW, db):
    """Batch N, per-sample sets idx (N, K) and xi (N, J)."""
    for n in range(dz.shape[0]):
        sparse_weight_grad_scatter_1(dz[n], xv[n], xi[n], idx[n], dW, db)


@jit
def active_union(idx, D_out, rows, pos):
    """Distinct ids of idx (any shape) in increasing order into rows[:U]; pos (same shape as idx)
    gets each id's position in rows, so rows[pos] == idx. Returns U. rows needs min(idx.size, D_out)."""
    where = np.full(D_out, -1, np.int64)                       # unit id -> position in rows, -1 = absent
    flat = idx.reshape(idx.size)                               # views: idx and pos are C-contiguous
    out = pos.reshape(pos.size)
    for i in range(flat.shape[0]):
        where[flat[i]] = 0                                     # present; its position comes next
    U = 0
    for r in range(D_out):                                     # increasing ids: rows walk dW forward
        if where[r] == 0:
            where[r] = U
            rows[U] = r
            U += 1
    for i in range(flat.shape[0]):
        out[i] = where[flat[i]]
    return U


# ---------------------------------------------------------------------------------------------
# Costs from shapes alone (kernels/cost.py): macs, bytes read, bytes written
# ---------------------------------------------------------------------------------------------

def weight_grad_scatter_1_cost(K, D_in, itemsize):
    # read-modify-write of K rows of dW and K biases; reads x, dz, ids
    return Cost(K * D_in, (2 * K * D_in + 2 * K + D_in) * itemsize + K * _IDX,
                (K * D_in + K) * itemsize)


def weight_grad_scatter_cost(N, K, D_in, itemsize):
    # one row read-modify-write per (sample, unit) pair: an upper bound, since units shared by
    # samples are grouped (their number is not known from shapes); plus the sort's index traffic
    return Cost(N * K * D_in, (2 * N * K * D_in + 2 * N * K + N * D_in) * itemsize + 3 * N * K * _IDX,
                (N * K * D_in + N * K) * itemsize + N * K * _IDX)


weight_grad_scatter_parallel_cost = weight_grad_scatter_cost


def weight_grad_scatter_shared_cost(N, K, D_in, itemsize):
    # each of the K rows is read and written once for all N samples
    return Cost(N * K * D_in, (2 * K * D_in + K + N * K + N * D_in) * itemsize + K * _IDX,
                (K * D_in + K) * itemsize)


def weight_grad_compact_1_cost(K, D_in, itemsize):
    # K*D_in products, written once, nothing read back
    return Cost(K * D_in, (K + D_in) * itemsize, K * D_in * itemsize)


def sparse_weight_grad_scatter_1_cost(K, J, itemsize):
    return Cost(K * J, (2 * K * J + 2 * K + J) * itemsize + (K + J) * _IDX, (K * J + K) * itemsize)


def sparse_weight_grad_scatter_cost(N, K, J, itemsize):
    return sparse_weight_grad_scatter_1_cost(K, J, itemsize).times(N)


def active_union_cost(n_ids, D_out):
    # two passes over the ids, one over the (D_out,) position table; writes positions and rows
    return Cost(0, (2 * n_ids + D_out) * _IDX, (n_ids + 2 * D_out) * _IDX)



REFERENCES = {
    weight_grad_scatter_1: weight_grad_scatter_1_reference,
    weight_grad_scatter: weight_grad_scatter_reference,
    weight_grad_scatter_parallel: weight_grad_scatter_reference,
    weight_grad_scatter_shared: weight_grad_scatter_shared_reference,
    weight_grad_compact_1: weight_grad_compact_1_reference,
    sparse_weight_grad_scatter_1: sparse_weight_grad_scatter_1_reference,
    sparse_weight_grad_scatter: sparse_weight_grad_scatter_reference,
    active_union: active_union_reference,
}


@register_warmup
def warmup_active_weight_grad():
    """Compile every weight-gradient kernel for float32 and float64 with int64 ids."""
    N, D_in, D_out, K, J = 2, 6, 5, 5, 3
    idx = np.zeros((N, K), np.int64)
    xi = np.zeros((N, J), np.int64)
    active_union(idx, D_out, np.empty(D_out, np.int64), np.empty_like(idx))
    for dtype in (np.float32, np.float64):
        dz = np.ones((N, K), dtype)
        x = np.ones((N, D_in), dtype)
        xv = np.ones((N, J), dtype)
        dW = np.zeros((D_out, D_in), dtype)
        db = np.zeros(D_out, dtype)
        weight_grad_scatter_1(dz[0], x[0], idx[0], dW, db)
        weight_grad_scatter(dz, x, idx, dW, db)
        weight_grad_scatter_parallel(dz, x, idx, dW, db)
        weight_grad_scatter_shared(dz, x, idx[0], dW, db)
        weight_grad_compact_1(dz[0], x[0], np.empty((K, D_in), dtype))
        sparse_weight_grad_scatter_1(dz[0], xv[0], xi[0], idx[0], dW, db)
        sparse_weight_grad_scatter(dz, xv, xi, idx, dW, db)
