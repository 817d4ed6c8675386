"""Exact top-k active sets scored from sparse inputs on input-major weights (TOPK).

TOPK (npmlp/strategies/topk.py, not in the paper) keeps, per sample and hidden layer, the k units
with the largest pre-activations, computed exactly. Its weights are stored input-major, WT (D_in,
D_out): the paper's own W^k (EDBT §4, z^k = a^{k-1} W^k + b^k), so the outgoing weights of input i
are the contiguous row WT[i]. A sample whose input has J non-zero entries then scores *every* unit
by reading J contiguous rows: J*D_out multiply-adds, 5% of the dense product when J = 50 of 1000.
With output-major rows (D_out, D_in) the same gather touches nearly every cache line of W.

    score            z = x_J WT[J, :] + b           (all D_out units)      J*D_out MACs
    select           S = the k largest of z, ties to the lower unit id      O(D_out)
    block backward   dx_J = WT[J, S] dz_S           (Eq. 1 on J x S)        J*K MACs
    (the block update is in kernels/topk_update.py)

Tie rule: units are ranked by (z descending, unit id ascending) and the first k are kept, so the
set is np.argsort(-z, kind="stable")[:k]; it holds the same values as np.argpartition(-z, k-1)[:k]
(whose choice among equal values is unspecified). Kept ids come out ascending. An all-zero input
scores z = b and keeps the k largest biases.

Shape legend
    D_in, D_out  layer input width and units;  J non-zero inputs;  K = k kept units;  N batch
    WT (D_in, D_out) C-contiguous (input-major);  b (D_out,)
    xv (J,) values and xi (J,) int64 positions of one sample's non-zero inputs
    X (N, D_in) a batch (zeros are skipped inside the kernel, per sample)
    z (D_out,) / Z (N, D_out);  S (K,) / (N, K) int64 kept ids, ascending per sample
    dz (K,) / dZ (N, K) deltas of the kept units in the order of S;  dx (J,) / dX (N, D_in)

Kernels write into caller-allocated outputs (overwritten). They do not check shapes or ranges.
"""
import numpy as np

from ._jit import jit, register_warmup
from .cost import Cost

_IDX = 8  # bytes per int64 index


# ---------------------------------------------------------------------------------------------
# Plain-NumPy references: same signatures as the kernels, obviously correct, used by the tests.
# ---------------------------------------------------------------------------------------------

def score_1_reference(xv, xi, WT, b, z):
    z[:] = xv @ WT[xi] + b                              # (J,) @ (J, D_out) -> (D_out,)


def score_reference(X, WT, b, Z):
    Z[:] = X @ WT + b                                   # (N, D_in) @ (D_in, D_out): zeros add 0


def select_topk_1_reference(z, k, S):
    S[:] = np.sort(np.argsort(-z, kind="stable")[:k])   # rank by (-z, id), keep k, ascending


def select_topk_reference(Z, k, S):
    for n in range(Z.shape[0]):
        select_topk_1_reference(Z[n], k, S[n])


def block_backward_input_1_reference(dz, S, xi, WT, dx):
    dx[:] = WT[np.ix_(xi, S)] @ dz                      # (J, K) @ (K,) -> (J,)


def block_backward_input_reference(dZ, S, X, WT, dX):
    dX[:] = 0
    for n in range(X.shape[0]):
        xi = np.flatnonzero(X[n])
        dX[n, xi] = WT[np.ix_(xi, S[n])] @ dZ[n]        # (J_n, K) @ (K,) on x_n's non-zeros only


# ---------------------------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------------------------

@jit
def score_1(xv, xi, WT, b, z):
    """z = b + sum_j xv[j] WT[xi[j]]: one contiguous axpy per non-zero input (EDBT §4)."""
    for u in range(z.shape[0]):
        z[u] = b[u]
    for j in range(xi.shape[0]):
        c = xv[j]
        i = xi[j]
        for u in range(z.shape[0]):
            z[u] += c * WT[i, u]


@jit
def score(X, WT, b, Z):
    """Z[n] = b + sum_{i: X[n,i] != 0} X[n,i] WT[i], each sample over its own non-zeros."""
    for n in range(X.shape[0]):
        for u in range(Z.shape[1]):
            Z[n, u] = b[u]
        for i in range(X.shape[1]):
            c = X[n, i]
            if c != 0:
                for u in range(Z.shape[1]):
                    Z[n, u] += c * WT[i, u]


@jit
def select_topk_1(z, k, S):
    """The k largest of z, ties to the lower id, written ascending into S (k <= D_out)."""
    n = z.shape[0]
    if k >= n:
        for u in range(n):
            S[u] = u
        return
    t = np.partition(z, n - k)[n - k]      # the k-th largest value
    above = 0
    for u in range(n):
        if z[u] > t:
            above += 1
    ties = k - above                        # how many units equal to t are kept: the lowest ids
    p = 0
    for u in range(n):
        v = z[u]
        if v > t:
            S[p] = u
            p += 1
        elif v == t and ties > 0:
            S[p] = u
            p += 1
            ties -= 1


@jit
def select_topk(Z, k, S):
    for n in range(Z.shape[0]):
        select_topk_1(Z[n], k, S[n])


@jit
def block_backward_input_1(dz, S, xi, WT, dx):
    """dx[j] = sum_s WT[xi[j], S[s]] dz[s] (Eq. 1 on the kept block): J rows, K gathers each."""
    for j in range(xi.shape[0]):
        i = xi[j]
        acc = WT.dtype.type(0)
        for s in range(S.shape[0]):
            acc += WT[i, S[s]] * dz[s]
        dx[j] = acc


@jit
def block_backward_input(dZ, S, X, WT, dX):
    """Per sample: dX[n, i] = WT[i, S[n]] . dZ[n] where X[n, i] != 0, else 0."""
    zero = WT.dtype.type(0)
    for n in range(X.shape[0]):
        for i in range(X.shape[1]):
            if X[n, i] == 0:
                dX[n, i] = zero
                continue
            acc = zero
            for s in range(S.shape[1]):
                acc += WT[i, S[n, s]] * dZ[n, s]
            dX[n, i] = acc


# ---------------------------------------------------------------------------------------------
# Costs (from shapes and set sizes alone)
# ---------------------------------------------------------------------------------------------

def score_cost(nnz, d_out, itemsize, n_rows=1):
    """nnz non-zero inputs summed over the batch, each one contiguous row of D_out weights."""
    return Cost(nnz * d_out, (nnz * (d_out + 1) + d_out) * itemsize + nnz * _IDX,
                n_rows * d_out * itemsize)


def select_cost(d_out, k, itemsize, n_rows=1):
    """Selection reads z twice (partition copy, scan) and writes k ids per sample; no MACs."""
    return Cost(0, n_rows * 2 * d_out * itemsize, n_rows * (d_out * itemsize + k * _IDX))


def block_backward_input_cost(nnz, k, itemsize):
    """nnz (non-zero inputs over the batch) x k gathered weights each."""
    return Cost(nnz * k, (nnz * k + k) * itemsize + k * _IDX, nnz * itemsize)


@register_warmup
def warmup():
    for dt in (np.float32, np.float64):
        WT = np.ones((4, 3), dt)
        b = np.zeros(3, dt)
        xi = np.arange(2, dtype=np.int64)
        xv = np.ones(2, dt)
        z = np.empty(3, dt)
        X = np.ones((2, 4), dt)
        Z = np.empty((2, 3), dt)
        S1 = np.empty(2, np.int64)
        S = np.empty((2, 2), np.int64)
        score_1(xv, xi, WT, b, z)
        score(X, WT, b, Z)
        select_topk_1(z, 2, S1)
        select_topk(Z, 2, S)
        block_backward_input_1(xv, S1, xi, WT, np.empty(2, dt))
        block_backward_input(np.ones((2, 2), dt), S, X, WT, np.empty((2, 4), dt))
