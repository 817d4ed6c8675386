"""Input gradient of a layer restricted to its active units (backward pass, ALSH-APPROX and kin).

For z = x W^T + b with W (D_out, D_in), only the active units carry a gradient dz, so the input
gradient reads only their K rows of W (EDBT Eq. 1, delta^k = f'(z^k) . W delta^{k+1}, with the
paper's W (D_in, D_out); its column j is our row j):
    dx = dz @ W[idx]                      K*D_in multiply-adds per sample instead of D_out*D_in
When the input itself is sparse (the previous layer's inactive units are exact zeros and stay
zero), its gradient is needed only at its J active units: dxv = dz @ W[idx][:, xi], cost K*J.
The weight gradient is in kernels/active_weight_grad.py.

Shape legend
    N      batch size                    D_in   inputs of the layer       D_out  units of the layer
    K      active units (outputs)        J      active inputs (the previous layer's active units)
    dz     (N, K) or (K,): gradient at the active units, in the order of idx
    idx    (K,) shared set, (N, K) per-sample sets; int64 unit ids in [0, D_out), duplicates allowed
    W      (D_out, D_in)                 xi     (N, J) or (J,) int64 ids of the active inputs
    dx     (N, D_in) or (D_in,)          dxv    (N, J) or (J,) input gradient at xi only

Kernels overwrite dx / dxv (caller-allocated) and do not check shapes or id ranges. Duplicate ids
contribute once per occurrence, exactly as `dz @ W[idx]` does.

The inner loop adds four rows of W per pass over dx (four FMAs per load/store of dx), vectorised
through `reassoc` fastmath (style-anchors E7); measured 20-30% faster than one row per pass.
`backward_input_parallel` splits the samples across threads: each dx[n] is summed by one thread in
a fixed order, so it is deterministic.
"""
import numpy as np
from numba import prange

from ._jit import jit, register_warmup
from .cost import Cost

_IDX = 8  # bytes per int64 index

# ---------------------------------------------------------------------------------------------
# Plain-NumPy references: same signatures as the kernels, obviously correct, used by the tests.
# ---------------------------------------------------------------------------------------------

def backward_input_1_reference(dz, W, idx, dx):
    dx[:] = dz @ W[idx]                                        # (K,) @ (K, D_in) -> (D_in,)


def backward_input_reference(dz, W, idx, dx):
    dx[:] = np.einsum("nk,nkd->nd", dz, W[idx])                # (N, K) . (N, K, D_in) -> (N, D_in)


def backward_input_shared_reference(dz, W, idx, dx):
    dx[:] = dz @ W[idx]                                        # (N, K) @ (K, D_in) -> (N, D_in)


def sparse_backward_input_1_reference(dz, W, idx, xi, dxv):
    dxv[:] = dz @ W[np.ix_(idx, xi)]                           # (K,) @ (K, J) -> (J,)


def sparse_backward_input_reference(dz, W, idx, xi, dxv):
    for n in range(dz.shape[0]):
        sparse_backward_input_1_reference(dz[n], W, idx[n], xi[n], dxv[n])


# ---------------------------------------------------------------------------------------------
# Inner loops (jitted helpers, inlined by LLVM into their callers)
# ---------------------------------------------------------------------------------------------

@jit
def _rows_axpy(dz, W, idx, dx):
    """dx (D_in,) = sum_k dz[k] W[idx[k]], four rows per pass over dx."""
    dx[:] = dx.dtype.type(0)
    K = idx.shape[0]
    D_in = dx.shape[0]
    k = 0
    while k + 4 <= K:
        a0, a1, a2, a3 = dz[k], dz[k + 1], dz[k + 2], dz[k + 3]
        w0, w1, w2, w3 = W[idx[k]], W[idx[k + 1]], W[idx[k + 2]], W[idx[k + 3]]
        for d in range(D_in):                                  # delta^k = W delta^{k+1}, EDBT Eq. 1
            dx[d] += a0 * w0[d] + a1 * w1[d] + a2 * w2[d] + a3 * w3[d]
        k += 4
    while k < K:
        a = dz[k]
        w = W[idx[k]]
        for d in range(D_in):
            dx[d] += a * w[d]
        k += 1


# Deliberate Numba specialisation of _rows_axpy (same four-row unrolling): only the columns xi of the
# active inputs are gathered, so only K x J weights are touched.
@jit
def _rows_axpy_sparse(dz, W, idx, xi, dxv):
    """dxv (J,) = sum_k dz[k] W[idx[k], xi]: the input gradient at the active inputs only."""
    dxv[:] = dxv.dtype.type(0)
    K = idx.shape[0]
    J = xi.shape[0]
    k = 0
    while k + 4 <= K:
        a0, a1, a2, a3 = dz[k], dz[k + 1], dz[k + 2], dz[k + 3]
        w0, w1, w2, w3 = W[idx[k]], W[idx[k + 1]], W[idx[k + 2]], W[idx[k + 3]]
        for j in range(J):
            c = xi[j]
            dxv[j] += a0 * w0[c] + a1 * w1[c] + a2 * w2[c] + a3 * w3[c]
        k += 4
    while k < K:
        a = dz[k]
        w = W[idx[k]]
        for j in range(J):
            dxv[j] += a * w[xi[j]]
        k += 1


# ---------------------------------------------------------------------------------------------
# Input-gradient kernels (overwrite dx / dxv)
# ---------------------------------------------------------------------------------------------

@jit
def backward_input_1(dz, W, idx, dx):
    """Batch 1: dx (D_in,) = dz (K,) @ W[idx]."""
    _rows_axpy(dz, W, idx, dx)


@jit
def backward_input(dz, W, idx, dx):
    """Batch N, per-sample sets idx (N, K): dx[n] = dz[n] @ W[idx[n]]."""
    for n in range(dz.shape[0]):
        _rows_axpy(dz[n], W, idx[n], dx[n])


@jit(parallel=True)
def backward_input_parallel(dz, W, idx, dx):
    """`backward_input` with the samples split across threads."""
    for n in prange(dz.shape[0]):
        _rows_axpy(dz[n], W, idx[n], dx[n])


@jit
def backward_input_shared(dz, W, idx, dx):
    """Batch N, one set idx (K,): dx (N, D_in) = dz (N, K) @ W[idx], in tiles of 4 units x 4 samples:
    per element of the rows, 4 loads of W and a load/store of 4 dx rows feed 16 FMAs."""
    N, D_in = dx.shape
    K = idx.shape[0]
    dx[:, :] = dx.dtype.type(0)
    k = 0
    while k + 4 <= K:
        w0, w1, w2, w3 = W[idx[k]], W[idx[k + 1]], W[idx[k + 2]], W[idx[k + 3]]
        n = 0
        while n + 4 <= N:
            y0, y1, y2, y3 = dx[n], dx[n + 1], dx[n + 2], dx[n + 3]
            g0, g1, g2, g3 = dz[n], dz[n + 1], dz[n + 2], dz[n + 3]
            a00, a01, a02, a03 = g0[k], g0[k + 1], g0[k + 2], g0[k + 3]       # a_ij: sample n+i, unit k+j
            a10, a11, a12, a13 = g1[k], g1[k + 1], g1[k + 2], g1[k + 3]
            a20, a21, a22, a23 = g2[k], g2[k + 1], g2[k + 2], g2[k + 3]
            a30, a31, a32, a33 = g3[k], g3[k + 1], g3[k + 2], g3[k + 3]
            for d in range(D_in):                              # delta^k = W delta^{k+1}, EDBT Eq. 1
                v0, v1, v2, v3 = w0[d], w1[d], w2[d], w3[d]
                y0[d] += a00 * v0 + a01 * v1 + a02 * v2 + a03 * v3
                y1[d] += a10 * v0 + a11 * v1 + a12 * v2 + a13 * v3
                y2[d] += a20 * v0 + a21 * v1 + a22 * v2 + a23 * v3
                y3[d] += a30 * v0 + a31 * v1 + a32 * v2 + a33 * v3
            n += 4
        while n < N:                                           # the last N mod 4 samples
            y = dx[n]
            a0, a1, a2, a3 = dz[n, k], dz[n, k + 1], dz[n, k + 2], dz[n, k + 3]
            for d in range(D_in):
                y[d] += a0 * w0[d] + a1 * w1[d] + a2 * w2[d] + a3 * w3[d]
            n += 1
        k += 4
    while k < K:                                               # the last K mod 4 units
        w = W[idx[k]]
        for n in range(N):
            y = dx[n]
            a = dz[n, k]
            for d in range(D_in):
                y[d] += a * w[d]
        k += 1


@jit
def sparse_backward_input_1(dz, W, idx, xi, dxv):
    """Batch 1: dxv (J,) = dz (K,) @ W[idx][:, xi]; cost K*J."""
    _rows_axpy_sparse(dz, W, idx, xi, dxv)


@jit
def sparse_backward_input(dz, W, idx, xi, dxv):
    """Batch N, per-sample sets idx (N, K) and xi (N, J): dxv (N, J)."""
    for n in range(dz.shape[0]):
        _rows_axpy_sparse(dz[n], W, idx[n], xi[n], dxv[n])


# ---------------------------------------------------------------------------------------------
# Costs from shapes alone (kernels/cost.py): macs, bytes read, bytes written
# ---------------------------------------------------------------------------------------------

def backward_input_1_cost(K, D_in, itemsize):
    # reads K rows of W, K gradients and ids; writes dx
    return Cost(K * D_in, (K * D_in + K) * itemsize + K * _IDX, D_in * itemsize)


def backward_input_cost(N, K, D_in, itemsize):
    # K rows per sample (rows shared by several samples are counted once per sample)
    c = backward_input_1_cost(K, D_in, itemsize)
    return Cost(N * c.macs, N * c.bytes_read, N * c.bytes_written)


backward_input_parallel_cost = backward_input_cost


def backward_input_shared_cost(N, K, D_in, itemsize):
    # the K rows are read once; later samples find them in cache
    return Cost(N * K * D_in, (K * D_in + N * K) * itemsize + K * _IDX, N * D_in * itemsize)


def sparse_backward_input_1_cost(K, J, itemsize):
    return Cost(K * J, (K * J + K) * itemsize + (K + J) * _IDX, J * itemsize)


def sparse_backward_input_cost(N, K, J, itemsize):
    return sparse_backward_input_1_cost(K, J, itemsize).times(N)



REFERENCES = {
    backward_input_1: backward_input_1_reference,
    backward_input: backward_input_reference,
    backward_input_parallel: backward_input_reference,
    backward_input_shared: backward_input_shared_reference,
    sparse_backward_input_1: sparse_backward_input_1_reference,
    sparse_backward_input: sparse_backward_input_reference,
}


@register_warmup
def warmup_active_backward():
    """Compile every input-gradient kernel for float32 and float64 with int64 ids."""
    N, D_in, D_out, K, J = 2, 6, 5, 5, 3
    idx = np.zeros((N, K), np.int64)
    xi = np.zeros((N, J), np.int64)
    for dtype in (np.float32, np.float64):
        W = np.ones((D_out, D_in), dtype)
        dz = np.ones((N, K), dtype)
        dx = np.empty((N, D_in), dtype)
        dxv = np.empty((N, J), dtype)
        backward_input_1(dz[0], W, idx[0], dx[0])
        backward_input(dz, W, idx, dx)
        backward_input_parallel(dz, W, idx, dx)
        backward_input_shared(dz, W, idx[0], dx)
        sparse_backward_input_1(dz[0], W, idx[0], xi[0], dxv[0])
        sparse_backward_input(dz, W, idx, xi, dxv)
