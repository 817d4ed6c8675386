"""Forward products restricted to an active set of output units (ALSH-APPROX, dropout-like strategies).

A layer computes z = x W^T + b with W stored (D_out, D_in): one unit's incoming weights are one
contiguous row. The paper writes z^k = a^{k-1} W^k + b^k with W^k (D_in, D_out) (EDBT §4.1); its
column W^k_{:,j} is our row W[j]. Restricting the product to the active units `idx` means reading
only K rows of W: K*D_in multiply-adds instead of D_out*D_in.

Shape legend
    N      batch size                    D_in   inputs of the layer       D_out  units of the layer
    K      active units (outputs)        J      active inputs (the previous layer's active units)
    x      (N, D_in) or (D_in,)          W      (D_out, D_in)             b      (D_out,)
    idx    (K,) shared set, (N, K) per-sample sets; int64 unit ids in [0, D_out), duplicates allowed
    xv, xi (N, J) or (J,): values and unit ids of the previous layer's active units (the rest are 0)
    out    (N, K) compact values in the order of idx, or (N, D_out) dense with zeros elsewhere

Kernels write into a caller-allocated `out` (overwritten, never accumulated). They do not check
shapes or index ranges: an id outside [0, D_out) reads outside W. Duplicate ids simply compute the
same unit twice. An empty set (K = 0) writes nothing (the scatter form writes its zeros).

Why the loops look as they do (notes/style-anchors.md E7): four rows of W are dotted with x in one
pass over D_in, so each loaded element of x feeds four FMAs; `reassoc` fastmath (kernels/_jit.py)
lets LLVM turn the four scalar sums into vector accumulators. With one set shared by the batch, a
tile of 4 units x 4 samples goes further: 8 loads feed 16 FMAs. Batch-N variants loop over samples
inside the kernel; the `*_parallel` ones split the samples (or, for a shared set, the units) across
threads. Each output element is computed by one thread in a fixed order, so they are deterministic.

Costs count every element read or written once. Per-sample sets read K rows per sample even where
samples share units (the repeated rows then come from cache). A sparse-input product touches K*J
scattered elements of W: at 5% of 1000 inputs that is most cache lines of each row anyway, so it
saves multiply-adds, not memory traffic.
"""
import numpy as np
from numba import prange

from ._jit import jit, register_warmup
from .cost import Cost

_IDX = 8  # bytes per int64 index


# ---------------------------------------------------------------------------------------------
# Plain-NumPy references: same signatures as the kernels, obviously correct, used by the tests.
# ---------------------------------------------------------------------------------------------

def active_forward_1_reference(x, W, b, idx, out):
    out[:] = W[idx] @ x + b[idx]                       # (K, D_in) @ (D_in,) -> (K,)


def active_forward_shared_reference(x, W, b, idx, out):
    out[:] = x @ W[idx].T + b[idx]                     # (N, D_in) @ (D_in, K) -> (N, K)


def active_forward_reference(x, W, b, idx, out):
    Wa = W[idx]                                        # (N, K, D_in) gathered rows
    out[:] = np.einsum("nkd,nd->nk", Wa, x) + b[idx]   # (N, K, D_in) . (N, D_in) -> (N, K)


def active_forward_scatter_reference(x, W, b, idx, out):
    z = np.empty(idx.shape, dtype=out.dtype)
    active_forward_reference(x, W, b, idx, z)          # (N, K)
    out[:] = 0
    np.put_along_axis(out, idx, z, axis=1)             # (N, K) -> (N, D_out), zeros elsewhere


def sparse_forward_1_reference(xv, xi, W, b, idx, out):
    out[:] = W[np.ix_(idx, xi)] @ xv + b[idx]          # (K, J) @ (J,) -> (K,)


def sparse_forward_reference(xv, xi, W, b, idx, out):
    for n in range(idx.shape[0]):
        sparse_forward_1_reference(xv[n], xi[n], W, b, idx[n], out[n])   # (K, J) @ (J,) -> (K,)


# ---------------------------------------------------------------------------------------------
# Inner loops shared by the kernels (jitted helpers, inlined by LLVM into their callers).
# ---------------------------------------------------------------------------------------------

@jit
def _rows_dot(x, W, b, idx, out, scatter):
    """out[k] (or out[idx[k]] when scatter) = x . W[idx[k]] + b[idx[k]], four rows per pass over x."""
    zero = out.dtype.type(0)
    K = idx.shape[0]
    D_in = x.shape[0]
    k = 0
    while k + 4 <= K:
        r0, r1, r2, r3 = idx[k], idx[k + 1], idx[k + 2], idx[k + 3]
        w0, w1, w2, w3 = W[r0], W[r1], W[r2], W[r3]
        s0 = s1 = s2 = s3 = zero
        for d in range(D_in):                          # z_j = a . W_{:,j} + b_j, EDBT §4.1
            xd = x[d]
            s0 += xd * w0[d]
            s1 += xd * w1[d]
            s2 += xd * w2[d]
            s3 += xd * w3[d]
        if scatter:
            out[r0], out[r1], out[r2], out[r3] = s0 + b[r0], s1 + b[r1], s2 + b[r2], s3 + b[r3]
        else:
            out[k], out[k + 1], out[k + 2], out[k + 3] = s0 + b[r0], s1 + b[r1], s2 + b[r2], s3 + b[r3]
        k += 4
    while k < K:                                       # the last K mod 4 rows
        r = idx[k]
        w = W[r]
        s = zero
        for d in range(D_in):
            s += x[d] * w[d]
        out[r if scatter else k] = s + b[r]
        k += 1


# Deliberate Numba specialisation of _rows_dot (same four-row unrolling): the input is read through
# its non-zero positions xi, so only K x J weights are touched.
@jit
def _rows_dot_sparse(xv, xi, W, b, idx, out):
    """out[k] = sum_j xv[j] W[idx[k], xi[j]] + b[idx[k]]: only the K x J entries that can be nonzero."""
    zero = out.dtype.type(0)
    K = idx.shape[0]
    J = xi.shape[0]
    k = 0
    while k + 4 <= K:
        r0, r1, r2, r3 = idx[k], idx[k + 1], idx[k + 2], idx[k + 3]
        w0, w1, w2, w3 = W[r0], W[r1], W[r2], W[r3]
        s0 = s1 = s2 = s3 = zero
        for j in range(J):
            c = xi[j]
            v = xv[j]
            s0 += v * w0[c]
            s1 += v * w1[c]
            s2 += v * w2[c]
            s3 += v * w3[c]
        out[k], out[k + 1], out[k + 2], out[k + 3] = s0 + b[r0], s1 + b[r1], s2 + b[r2], s3 + b[r3]
        k += 4
    while k < K:
        r = idx[k]
        w = W[r]
        s = zero
        for j in range(J):
            s += xv[j] * w[xi[j]]
        out[k] = s + b[r]
        k += 1


@jit
def _dot(u, v):
    s = u.dtype.type(0)
    for d in range(u.shape[0]):
        s += u[d] * v[d]
    return s


@jit
def _shared_block(x, W, b, idx, out, k0, k1):
    """Units idx[k0:k1] for every sample, in tiles of 4 units x 4 samples: per element of the
    rows, 8 loads feed 16 FMAs (measured 1.6-2.3x faster than one unit x 4 samples)."""
    zero = out.dtype.type(0)
    N, D_in = x.shape
    k = k0
    while k + 4 <= k1:
        r0, r1, r2, r3 = idx[k], idx[k + 1], idx[k + 2], idx[k + 3]
        w0, w1, w2, w3 = W[r0], W[r1], W[r2], W[r3]
        b0, b1, b2, b3 = b[r0], b[r1], b[r2], b[r3]
        n = 0
        while n + 4 <= N:
            x0, x1, x2, x3 = x[n], x[n + 1], x[n + 2], x[n + 3]
            s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = zero      # s_ij: sample n+i, unit k+j
            s20 = s21 = s22 = s23 = s30 = s31 = s32 = s33 = zero
            for d in range(D_in):                                     # z = a W + b, EDBT §4.1
                a0, a1, a2, a3 = x0[d], x1[d], x2[d], x3[d]
                v = w0[d]
                s00 += a0 * v; s10 += a1 * v; s20 += a2 * v; s30 += a3 * v  # noqa: E702
                v = w1[d]
                s01 += a0 * v; s11 += a1 * v; s21 += a2 * v; s31 += a3 * v  # noqa: E702
                v = w2[d]
                s02 += a0 * v; s12 += a1 * v; s22 += a2 * v; s32 += a3 * v  # noqa: E702
                v = w3[d]
                s03 += a0 * v; s13 += a1 * v; s23 += a2 * v; s33 += a3 * v  # noqa: E702
            o0, o1, o2, o3 = out[n], out[n + 1], out[n + 2], out[n + 3]
            o0[k], o0[k + 1], o0[k + 2], o0[k + 3] = s00 + b0, s01 + b1, s02 + b2, s03 + b3
            o1[k], o1[k + 1], o1[k + 2], o1[k + 3] = s10 + b0, s11 + b1, s12 + b2, s13 + b3
            o2[k], o2[k + 1], o2[k + 2], o2[k + 3] = s20 + b0, s21 + b1, s22 + b2, s23 + b3
            o3[k], o3[k + 1], o3[k + 2], o3[k + 3] = s30 + b0, s31 + b1, s32 + b2, s33 + b3
            n += 4
        while n < N:                                                  # the last N mod 4 samples
            for j in range(4):
                out[n, k + j] = _dot(x[n], W[idx[k + j]]) + b[idx[k + j]]
            n += 1
        k += 4
    while k < k1:                                                     # the last units, one at a time
        for n in range(N):
            out[n, k] = _dot(x[n], W[idx[k]]) + b[idx[k]]
        k += 1


# ---------------------------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------------------------

@jit
def active_forward_1(x, W, b, idx, out):
    """Batch 1: out (K,) = W[idx] @ x + b[idx] for x (D_in,), idx (K,)."""
    _rows_dot(x, W, b, idx, out, False)


@jit
def active_forward_shared(x, W, b, idx, out):
    """Batch N, one set for all samples: out (N, K) = x @ W[idx].T + b[idx], idx (K,)."""
    _shared_block(x, W, b, idx, out, 0, idx.shape[0])


@jit(parallel=True)
def active_forward_shared_parallel(x, W, b, idx, out):
    """`active_forward_shared` with the units split into contiguous blocks shared out among the
    threads; blocks start at multiples of 4 units so the 4 x 4 tiles stay whole."""
    K = idx.shape[0]
    quads = (K + 3) // 4
    blocks = min(quads, 16)                            # enough blocks to balance a few threads
    for t in prange(blocks):
        _shared_block(x, W, b, idx, out, 4 * (t * quads // blocks), min(4 * ((t + 1) * quads // blocks), K))


@jit
def active_forward(x, W, b, idx, out):
    """Batch N, a set per sample: out[n] (K,) = W[idx[n]] @ x[n] + b[idx[n]], idx (N, K)."""
    for n in range(x.shape[0]):
        _rows_dot(x[n], W, b, idx[n], out[n], False)


@jit(parallel=True)
def active_forward_parallel(x, W, b, idx, out):
    """`active_forward` with the samples split across threads."""
    for n in prange(x.shape[0]):
        _rows_dot(x[n], W, b, idx[n], out[n], False)


@jit
def active_forward_scatter(x, W, b, idx, out):
    """Like `active_forward` but out (N, D_out) is dense: z at the active units, 0 elsewhere."""
    zero = out.dtype.type(0)
    for n in range(x.shape[0]):
        out[n, :] = zero
        _rows_dot(x[n], W, b, idx[n], out[n], True)


@jit
def sparse_forward_1(xv, xi, W, b, idx, out):
    """Batch 1 with a sparse input: out (K,) = W[idx][:, xi] @ xv + b[idx]; cost K*J, not K*D_in."""
    _rows_dot_sparse(xv, xi, W, b, idx, out)


@jit
def sparse_forward(xv, xi, W, b, idx, out):
    """Batch N, per-sample input sets xi (N, J) and output sets idx (N, K): out (N, K)."""
    for n in range(idx.shape[0]):
        _rows_dot_sparse(xv[n], xi[n], W, b, idx[n], out[n])


# ---------------------------------------------------------------------------------------------
# Costs from shapes alone (kernels/cost.py): macs, bytes read, bytes written
# ---------------------------------------------------------------------------------------------

def active_forward_1_cost(K, D_in, itemsize):
    # reads K rows of W, x, K biases, K ids; writes K values
    return Cost(K * D_in, (K * D_in + D_in + K) * itemsize + K * _IDX, K * itemsize)


def active_forward_shared_cost(N, K, D_in, itemsize):
    # each of the K rows is read once and reused for all N samples
    return Cost(N * K * D_in, (K * D_in + N * D_in + K) * itemsize + K * _IDX, N * K * itemsize)


active_forward_shared_parallel_cost = active_forward_shared_cost


def active_forward_cost(N, K, D_in, itemsize):
    # K rows per sample (rows shared by several samples are counted once per sample)
    return Cost(N * K * D_in, (N * K * D_in + N * D_in + N * K) * itemsize + N * K * _IDX,
                N * K * itemsize)


active_forward_parallel_cost = active_forward_cost


def active_forward_scatter_cost(N, K, D_in, D_out, itemsize):
    c = active_forward_cost(N, K, D_in, itemsize)
    return Cost(c.macs, c.bytes_read, N * D_out * itemsize)      # writes the whole dense output


def sparse_forward_1_cost(K, J, itemsize):
    # K*J scattered elements of W, J values and ids, K biases and ids
    return Cost(K * J, (K * J + J + K) * itemsize + (J + K) * _IDX, K * itemsize)


def sparse_forward_cost(N, K, J, itemsize):
    return sparse_forward_1_cost(K, J, itemsize).times(N)


REFERENCES = {
    active_forward_1: active_forward_1_reference,
    active_forward_shared: active_forward_shared_reference,
    active_forward_shared_parallel: active_forward_shared_reference,
    active_forward: active_forward_reference,
    active_forward_parallel: active_forward_reference,
    active_forward_scatter: active_forward_scatter_reference,
    sparse_forward_1: sparse_forward_1_reference,
    sparse_forward: sparse_forward_reference,
}


@register_warmup
def warmup_active_forward():
    """Compile every forward kernel for float32 and float64 with int64 ids."""
    for dtype in (np.float32, np.float64):
        N, D_in, D_out, K = 2, 6, 5, 5
        x = np.ones((N, D_in), dtype)
        W = np.ones((D_out, D_in), dtype)
        b = np.zeros(D_out, dtype)
        idx = np.zeros((N, K), np.int64)
        out = np.empty((N, K), dtype)
        active_forward_1(x[0], W, b, idx[0], out[0])
        active_forward_shared(x, W, b, idx[0], out)
        active_forward_shared_parallel(x, W, b, idx[0], out)
        active_forward(x, W, b, idx, out)
        active_forward_parallel(x, W, b, idx, out)
        active_forward_scatter(x, W, b, idx, np.empty((N, D_out), dtype))
        xi = np.zeros((N, 3), np.int64)
        sparse_forward_1(x[0, :3], xi[0], W, b, idx[0], out[0])
        sparse_forward(x[:, :3].copy(), xi, W, b, idx, out)
