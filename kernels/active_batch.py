"""Batch-N active-set products with a different set of units per sample (ragged sets, CSR layout).

At batch N > 1 each sample n of DROPOUT, ADAPTIVE-DROPOUT and ALSH-APPROX keeps its own K_n units
(K_n varies: a Bernoulli draw, a hash-bucket union), and after layer 1 its input has its own J_n
non-zero entries (the previous layer's kept units). The rectangular (N, K) kernels of
active_forward.py / active_backward.py cannot hold that, so the sets are stored as CSR:

    z_S = W[S_n][:, J_n] x_n[J_n] + b[S_n]          per sample, EDBT §4 on the kept units only
    dx_n[J_n] = dz_n W[S_n][:, J_n]                  Eq. 1 (delta^k = W delta^{k+1}) on S_n x J_n
    g[u] = sum over pairs (n, u) of dz_n,u x_n       Eq. 1 (grad_W = a^{k-1} delta^k), one row per
                                                     distinct unit u of the batch (the union U)

The weight gradient is formed compactly, one row per distinct unit, row-grouped: the (sample,
unit) pairs are sorted by unit (a counting sort), so a row shared by several samples is written
once, and with a sparse input only its J_n columns per pair are added (K_n*J_n MACs per sample).
The rows are *overwritten* (a row without a pair becomes zero), so no zeroing pass is needed.
`csr_count` / `csr_fill` turn a mask or a layer's output (N, D) into that CSR form in two passes
(np.nonzero, the gathers and a bincount took 235 us against 35 us at (20, 1000), 5% non-zero,
measured with timeit under load ~7).

Shape legend
    N        batch size                 D_in  inputs of the layer        D_out  units of the layer
    ptr      (N + 1,) int64: sample n's pairs are ptr[n]:ptr[n + 1] of idx / pos / z / dz
    idx      (P,) int64 unit ids of the P = sum K_n pairs, sample by sample
    pos      (P,) int64 position of each pair's unit in the union rows (U of them), in [0, U)
    xptr     (N + 1,) int64: sample n's non-zero inputs are xptr[n]:xptr[n + 1] of xi / xv
    xi, xv   (Q,) int64 input ids and their values, Q = sum J_n
    x        (N, D_in) dense inputs (layer 1: pixels)
    z, dz    (P,) pre-activations / gradients of the pairs, in the order of idx
    dx (N, D_in), dxv (Q,) input gradients;  g (U, D_in), db (U,) compact weight and bias gradient

Kernels write into caller-allocated outputs and do not check shapes or id ranges. Each output
element is computed in a fixed order, so results are deterministic. The inner loops are the ones of
active_forward.py / active_backward.py (four rows per pass), applied to each sample's slice.
"""
import numpy as np

from ._jit import jit, register_warmup
from .active_backward import _rows_axpy, _rows_axpy_sparse
from .active_forward import _rows_dot, _rows_dot_sparse
from .cost import Cost

_IDX = 8  # bytes per int64 index


# ---------------------------------------------------------------------------------------------
# Plain-NumPy references: same signatures as the kernels, obviously correct, used by the tests.
# ---------------------------------------------------------------------------------------------

def csr_count_reference(a, ptr):
    ptr[0] = 0
    np.cumsum(np.count_nonzero(a, axis=1), out=ptr[1:])     # (N,) non-zeros per row, accumulated
    return int(ptr[-1])


def csr_fill_reference(a, ptr, sample, ids, vals):
    sample[:], ids[:] = np.nonzero(a)                       # row-major: sample by sample
    vals[:] = a[sample, ids]


def ragged_forward_reference(x, W, b, ptr, idx, out):
    for n in range(x.shape[0]):
        s = slice(ptr[n], ptr[n + 1])
        out[s] = W[idx[s]] @ x[n] + b[idx[s]]                     # (K_n, D_in) @ (D_in,) -> (K_n,)


def ragged_sparse_forward_reference(xv, xptr, xi, W, b, ptr, idx, out):
    for n in range(ptr.shape[0] - 1):
        s, t = slice(ptr[n], ptr[n + 1]), slice(xptr[n], xptr[n + 1])
        out[s] = W[np.ix_(idx[s], xi[t])] @ xv[t] + b[idx[s]]     # (K_n, J_n) @ (J_n,) -> (K_n,)


def ragged_backward_input_reference(dz, W, ptr, idx, dx):
    for n in range(dx.shape[0]):
        s = slice(ptr[n], ptr[n + 1])
        dx[n] = dz[s] @ W[idx[s]]                                 # (K_n,) @ (K_n, D_in) -> (D_in,)


def ragged_sparse_backward_input_reference(dz, W, ptr, idx, xptr, xi, dxv):
    for n in range(ptr.shape[0] - 1):
        s, t = slice(ptr[n], ptr[n + 1]), slice(xptr[n], xptr[n + 1])
        dxv[t] = dz[s] @ W[np.ix_(idx[s], xi[t])]                 # (K_n,) @ (K_n, J_n) -> (J_n,)


def weight_grad_rows_reference(dz, x, ptr, pos, g, db):
    g[:] = 0
    db[:] = 0
    for n in range(x.shape[0]):
        s = slice(ptr[n], ptr[n + 1])
        np.add.at(g, pos[s], np.multiply.outer(dz[s], x[n]))     # (K_n,) x (D_in,) summed per row
        np.add.at(db, pos[s], dz[s])


def sparse_weight_grad_rows_reference(dz, xv, xptr, xi, ptr, pos, g, db):
    g[:] = 0
    db[:] = 0
    for n in range(ptr.shape[0] - 1):
        s, t = slice(ptr[n], ptr[n + 1]), slice(xptr[n], xptr[n + 1])
        np.add.at(g, np.ix_(pos[s], xi[t]), np.multiply.outer(dz[s], xv[t]))   # (K_n, J_n)
        np.add.at(db, pos[s], dz[s])


# ---------------------------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------------------------

@jit
def csr_count(a, ptr):
    """ptr (N + 1,) = offsets of each row's non-zeros of a (N, D); returns their number P."""
    ptr[0] = 0
    for n in range(a.shape[0]):
        c = 0
        row = a[n]
        for d in range(a.shape[1]):
            c += row[d] != 0
        ptr[n + 1] = ptr[n] + c
    return ptr[a.shape[0]]


@jit
def csr_fill(a, ptr, sample, ids, vals):
    """The non-zeros of a (N, D) in CSR order (after csr_count): their row, column and value."""
    for n in range(a.shape[0]):
        p = ptr[n]
        row = a[n]
        for d in range(a.shape[1]):
            v = row[d]
            if v != 0:
                sample[p] = n
                ids[p] = d
                vals[p] = v
                p += 1


@jit
def ragged_forward(x, W, b, ptr, idx, out):
    """Dense input x (N, D_in): out[ptr[n]:ptr[n+1]] = W[S_n] @ x[n] + b[S_n]."""
    for n in range(x.shape[0]):
        p0, p1 = ptr[n], ptr[n + 1]
        _rows_dot(x[n], W, b, idx[p0:p1], out[p0:p1], False)


@jit
def ragged_sparse_forward(xv, xptr, xi, W, b, ptr, idx, out):
    """Sparse input (CSR xptr, xi, xv): out[S_n pairs] = W[S_n][:, J_n] @ xv[J_n] + b[S_n]."""
    for n in range(ptr.shape[0] - 1):
        p0, p1, q0, q1 = ptr[n], ptr[n + 1], xptr[n], xptr[n + 1]
        _rows_dot_sparse(xv[q0:q1], xi[q0:q1], W, b, idx[p0:p1], out[p0:p1])


@jit
def ragged_backward_input(dz, W, ptr, idx, dx):
    """Dense input gradient dx (N, D_in): dx[n] = dz[S_n pairs] @ W[S_n] (overwritten)."""
    for n in range(dx.shape[0]):
        p0, p1 = ptr[n], ptr[n + 1]
        _rows_axpy(dz[p0:p1], W, idx[p0:p1], dx[n])


@jit
def ragged_sparse_backward_input(dz, W, ptr, idx, xptr, xi, dxv):
    """Input gradient at the non-zero inputs only: dxv[J_n] = dz[S_n] @ W[S_n][:, J_n]."""
    for n in range(ptr.shape[0] - 1):
        p0, p1, q0, q1 = ptr[n], ptr[n + 1], xptr[n], xptr[n + 1]
        _rows_axpy_sparse(dz[p0:p1], W, idx[p0:p1], xi[q0:q1], dxv[q0:q1])


@jit
def _group_pairs(ptr, pos, U):
    """Counting sort of the pairs by row: the pairs of row r are order[start[r]:start[r + 1]] (pair
    indices, increasing), and sample[i] is pair i's sample."""
    P = pos.shape[0]
    start = np.zeros(U + 1, np.int64)
    for i in range(P):
        start[pos[i] + 1] += 1
    for r in range(U):
        start[r + 1] += start[r]
    fill = start[:U].copy()
    order = np.empty(P, np.int64)
    sample = np.empty(P, np.int64)
    for n in range(ptr.shape[0] - 1):
        for i in range(ptr[n], ptr[n + 1]):
            sample[i] = n
            r = pos[i]
            order[fill[r]] = i
            fill[r] += 1
    return start, order, sample


@jit
def weight_grad_rows(dz, x, ptr, pos, g, db):
    """Dense input: g[r] = sum over the pairs i of row r of dz[i] x[sample(i)] (Eq. 1), db[r] = sum
    dz[i]; both overwritten. Each row is written once, its pairs added four per pass."""
    start, order, sample = _group_pairs(ptr, pos, g.shape[0])
    D_in = x.shape[1]
    zero = g.dtype.type(0)
    for r in range(g.shape[0]):
        row = g[r]
        p, p1 = start[r], start[r + 1]
        if p == p1:
            row[:] = zero
            db[r] = zero
            continue
        i = order[p]
        a = dz[i]
        xn = x[sample[i]]
        for d in range(D_in):                              # grad_W = a^{k-1} delta^k, EDBT Eq. 1
            row[d] = a * xn[d]
        s = a
        p += 1
        while p + 4 <= p1:
            i0, i1, i2, i3 = order[p], order[p + 1], order[p + 2], order[p + 3]
            a0, a1, a2, a3 = dz[i0], dz[i1], dz[i2], dz[i3]
            x0, x1, x2, x3 = x[sample[i0]], x[sample[i1]], x[sample[i2]], x[sample[i3]]
            for d in range(D_in):
                row[d] += a0 * x0[d] + a1 * x1[d] + a2 * x2[d] + a3 * x3[d]
            s += a0 + a1 + a2 + a3
            p += 4
        while p < p1:
            i = order[p]
            a = dz[i]
            xn = x[sample[i]]
            for d in range(D_in):
                row[d] += a * xn[d]
            s += a
            p += 1
        db[r] = s


@jit
def sparse_weight_grad_rows(dz, xv, xptr, xi, ptr, pos, g, db):
    """Sparse input: g[r] = sum over the pairs i of row r of dz[i] xv (at the sample's J_n columns),
    db[r] = sum dz[i]; both overwritten. A row is zeroed and filled while it is in cache."""
    start, order, sample = _group_pairs(ptr, pos, g.shape[0])
    zero = g.dtype.type(0)
    for r in range(g.shape[0]):
        row = g[r]
        row[:] = zero
        s = zero
        for p in range(start[r], start[r + 1]):
            i = order[p]
            a = dz[i]
            n = sample[i]
            for j in range(xptr[n], xptr[n + 1]):          # grad_W = a^{k-1} delta^k on S_n x J_n
                row[xi[j]] += a * xv[j]
            s += a
        db[r] = s


# ---------------------------------------------------------------------------------------------
# Costs (kernels/cost.py): macs, bytes read, bytes written. P pairs, Q non-zero inputs,
# PJ = sum_n K_n J_n (the entries of W a sparse-input product touches), U union rows.
# ---------------------------------------------------------------------------------------------

def csr_count_cost(N, D, itemsize):
    return Cost(0, N * D * itemsize, (N + 1) * _IDX)


def csr_fill_cost(N, D, P, itemsize):
    return Cost(0, N * D * itemsize, P * (2 * _IDX + itemsize))


def ragged_forward_cost(N, P, D_in, itemsize):
    # K_n rows per sample (rows shared by samples counted once per sample), x, biases, ids
    return Cost(P * D_in, (P * D_in + N * D_in + P) * itemsize + (P + N) * _IDX, P * itemsize)


def ragged_sparse_forward_cost(N, P, Q, PJ, itemsize):
    return Cost(PJ, (PJ + Q + P) * itemsize + (P + Q + 2 * N) * _IDX, P * itemsize)


def ragged_backward_input_cost(N, P, D_in, itemsize):
    return Cost(P * D_in, (P * D_in + P) * itemsize + (P + N) * _IDX, N * D_in * itemsize)


def ragged_sparse_backward_input_cost(N, P, Q, PJ, itemsize):
    return Cost(PJ, (PJ + P) * itemsize + (P + Q + 2 * N) * _IDX, Q * itemsize)


def weight_grad_rows_cost(N, P, U, D_in, itemsize):
    # each union row written once; each pair reads its sample's input row (from cache when shared)
    return Cost(P * D_in, (P * D_in + P) * itemsize + 4 * P * _IDX, (U * D_in + U) * itemsize)


def sparse_weight_grad_rows_cost(N, P, Q, PJ, U, D_in, itemsize):
    return Cost(PJ, (PJ + P) * itemsize + (4 * P + Q) * _IDX, (U * D_in + U) * itemsize)


REFERENCES = {
    csr_count: csr_count_reference,
    csr_fill: csr_fill_reference,
    ragged_forward: ragged_forward_reference,
    ragged_sparse_forward: ragged_sparse_forward_reference,
    ragged_backward_input: ragged_backward_input_reference,
    ragged_sparse_backward_input: ragged_sparse_backward_input_reference,
    weight_grad_rows: weight_grad_rows_reference,
    sparse_weight_grad_rows: sparse_weight_grad_rows_reference,
}


@register_warmup
def warmup_active_batch():
    """Compile every ragged kernel for float32 and float64 with int64 ids."""
    N, D_in, D_out = 2, 6, 5
    ptr = np.array([0, 2, 3], np.int64)
    idx = np.array([0, 3, 1], np.int64)
    pos = np.array([0, 2, 1], np.int64)
    xptr = np.array([0, 1, 3], np.int64)
    xi = np.array([2, 0, 5], np.int64)
    for dtype in (np.float32, np.float64):
        x = np.ones((N, D_in), dtype)
        W = np.ones((D_out, D_in), dtype)
        b = np.zeros(D_out, dtype)
        z = np.empty(3, dtype)
        xv = np.ones(3, dtype)
        g = np.empty((3, D_in), dtype)
        db = np.empty(3, dtype)
        P = csr_count(x, np.empty(N + 1, np.int64))
        csr_fill(x, ptr, np.empty(P, np.int64), np.empty(P, np.int64), np.empty(P, dtype))
        ragged_forward(x, W, b, ptr, idx, z)
        ragged_sparse_forward(xv, xptr, xi, W, b, ptr, idx, z)
        ragged_backward_input(z, W, ptr, idx, x)
        ragged_sparse_backward_input(z, W, ptr, idx, xptr, xi, xv)
        weight_grad_rows(z, x, ptr, pos, g, db)
        sparse_weight_grad_rows(z, xv, xptr, xi, ptr, pos, g, db)
