"""Layer math as function pairs: `*_forward(...) -> (out, cache)` and `*_backward(dout, cache) -> grads`.

Shape legend
    N      batch size (1 for the paper's stochastic _S settings)
    D_in   width of the layer's input a^{k-1}
    D_out  width of the layer (its units)
    x      (N, D_in)   input activations a^{k-1}
    W      (D_out, D_in)  weights; the paper's W^k transposed (it writes z = a W)
    b      (D_out,)
    z      (N, D_out)  pre-activations z^k
    a      (N, D_out)  activations a^k = f(z^k)

EDBT §4 (feedforward): z^k = a^{k-1} W^k + b^k,  a^k = f(z^k).
EDBT Eq. 1 (backpropagation):
    delta^k = f'(z^k) ⊙ (W^{k+1} delta^{k+1}),   ∇_{W^k} L = a^{k-1} delta^k,   ∇_{b^k} L = delta^k.

The weight gradient is returned in factored form (`WeightGrad`): dW = G^T A restricted to some rows.
Materialising it is the optimiser's job, so a batch-1 step can fuse the outer product into the update
(performance-facts.md §5.2: the batch-1 outer product as a matmul runs at 1.4 GFLOP/s) and a sampling
method that touches few rows never forms a dense (D_out, D_in) gradient.
"""
from typing import Any, NamedTuple, Optional

import numpy as np


class WeightGrad(NamedTuple):
    """dW[rows] = G^T @ A and db[rows] = sum_n G[n]; rows=None means all rows.

    G (N, R): the deltas of the R rows that have a gradient (R = D_out when rows is None)
    A (N, D_in): the layer's input activations (possibly rescaled by a sampling method)
    rows (R,) int64 or None
    """
    G: np.ndarray
    A: np.ndarray
    rows: Optional[np.ndarray] = None
    db: Optional[np.ndarray] = None  # (R,) bias gradient; computed from G when None
    applied: bool = False            # the weights were already updated by a fused kernel
    pairs: Any = None                # batch-N active sets: G's non-zeros as (sample, unit) pairs
                                     # (strategies/active_batch.py:RowPairs), which the optimiser
                                     # forms the rows from; the strategy recorded their cost

    def bias(self):
        return self.G.sum(axis=0) if self.db is None else self.db

    def dense(self, d_out):
        """The full (D_out, D_in) weight gradient and (D_out,) bias gradient (tests, small layers)."""
        dW = np.zeros((d_out, self.A.shape[1]), dtype=np.result_type(self.G, self.A))
        db = np.zeros(d_out, dtype=dW.dtype)
        rows = slice(None) if self.rows is None else self.rows
        dW[rows] = self.G.T @ self.A  # (R, N) @ (N, D_in): Eq. 1, ∇W = a^{k-1} delta^k
        db[rows] = self.bias()        # Eq. 1, ∇b = delta^k
        return dW, db


class BlockGrad(NamedTuple):
    """The gradient of one block of an input-major layer (TOPK, strategies/topk.py), factored:
    dW[cols][:, rows] = G^T @ A and db[cols] = sum_n G[n]; zero outside the block.

    A (N, R): the layer's inputs at the block's rows (input ids `rows`: the non-zero inputs)
    G (N, C): the deltas of the block's columns (unit ids `cols`: the kept units)
    d_in: the layer's input width (for `dense`)
    The optimiser applies it to the block only (npmlp/optim_block.py).
    """
    A: np.ndarray
    G: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    d_in: int

    def bias(self):
        return self.G.sum(axis=0)

    def dense(self, d_out):
        """The full (D_out, D_in) weight gradient and (D_out,) bias gradient (tests, small layers)."""
        dW = np.zeros((d_out, self.d_in), dtype=np.result_type(self.G, self.A))
        db = np.zeros(d_out, dtype=dW.dtype)
        dW[np.ix_(self.cols, self.rows)] = self.G.T @ self.A   # Eq. 1, ∇W = a^{k-1} delta^k
        db[self.cols] = self.bias()                             # Eq. 1, ∇b = delta^k
        return dW, db


# ---------------------------------------------------------------- dense (affine) layer

class DenseCache(NamedTuple):
    x: np.ndarray  # (N, D_in)


def dense_forward(x, W, b):
    # EDBT §4, z^k = a^{k-1} W^k + b^k, computed as (W x^T)^T: (D_out, D_in) @ (D_in, N). OpenBLAS
    # runs `x @ W.T` 1.5x slower at N = 20 (measured: bench/README.md, 'Layouts').
    z = np.ascontiguousarray((W @ x.T).T)   # -> (N, D_out)
    z += b
    return z, DenseCache(x)


def dense_backward(dz, cache, W, need_dx=True):
    """dz (N, D_out) -> dx (N, D_in) or None, and the factored weight gradient (Eq. 1)."""
    dx = dz @ W if need_dx else None  # (N, D_out) @ (D_out, D_in): Eq. 1, W^{k} delta^{k}
    return dx, WeightGrad(dz, cache.x)


# ---------------------------------------------------------------- activations
# Each backward takes the cache its forward returned and the upstream gradient da (N, D), and returns
# dz = f'(z) ⊙ da (Eq. 1). ReLU-like caches keep the output, sigmoid/tanh the output too (f' is a
# function of it), so no activation keeps z alive.

def relu_forward(z):
    a = np.maximum(z, 0, out=z)   # in place: z is not needed again
    return a, a


def relu_backward(da, a):
    return np.multiply(da, a > 0)  # f'(z) = 1[z > 0] = 1[a > 0]


def leaky_relu_forward(z, slope):
    a = np.where(z > 0, z, z * slope)
    return a, (a, slope)


def leaky_relu_backward(da, cache):
    a, slope = cache
    return np.where(a > 0, da, da * slope)  # slope > 0 keeps the sign of z in a


def sigmoid_forward(z):
    a = np.empty_like(z)
    # Stable on both tails: exp never sees a large positive argument.
    pos = z >= 0
    a[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    a[~pos] = ez / (1.0 + ez)
    return a, a


def sigmoid_backward(da, a):
    return da * a * (1 - a)


def tanh_forward(z):
    a = np.tanh(z)
    return a, a


def tanh_backward(da, a):
    return da * (1 - a * a)


def activation_pair(name, slope=0.01):
    """(forward(z) -> (a, cache), backward(da, cache) -> dz) for a hidden activation name."""
    if name == "relu":
        return relu_forward, relu_backward
    if name == "leaky_relu":
        return (lambda z: leaky_relu_forward(z, slope)), leaky_relu_backward
    if name == "sigmoid":
        return sigmoid_forward, sigmoid_backward
    if name == "tanh":
        return tanh_forward, tanh_backward
    raise ValueError(f"unknown activation {name!r}")
