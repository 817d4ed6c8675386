"""Batch N > 1 for the active-set methods: compute only each sample's kept units (no masking).

At batch N every sample n keeps its own set S_n of a hidden layer's units (the mask (N, D_out) that
`choose_mask` returns: the scale of a kept unit, 0 for a dropped one). Two ways compute the layer:

dense (masked): the full products, then the mask, as the EDBT code does
    z = a W^T + b (N x D_in x D_out MACs); out = f(z) * mask; dx = (dout * mask * f'(z)) W
sparse (per sample, kernels/active_batch.py): the pairs (n, u in S_n) in CSR order
    z_S = W[S_n][:, J_n] a_n[J_n] + b[S_n]       sum_n K_n J_n MACs (EDBT §4 on S_n only)
    dz_S = f'(z_S) . dout[n, S_n] * scale          Eq. 1 on the kept units
    dx_n[J_n] = dz_S W[S_n][:, J_n]                sum_n K_n J_n MACs (Eq. 1)
    g[u] = sum_{n: u in S_n} dz_n,u a_n            the weight gradient of the U distinct units
where J_n are sample n's non-zero inputs (every input for layer 1, whose pixels are treated as dense
like STANDARD does). Both give the same result to float rounding (tests/test_active_batch.py).

In both, the weight gradient has rows only for the union U of the batch's sets (20 samples at 5%
touch ~64% of the rows), so `--optimizer-state sparse` updates only those rows, as at batch 1.

Which one runs is decided per layer and step from the measured crossover (`use_sparse`, below).
"""
from typing import Any, NamedTuple

import numpy as np

from kernels import active_batch as KB
from kernels.active_weight_grad import active_union

from ..layers import WeightGrad

# The crossover, measured by bench/bench_active_batch.py (bench/README.md, "Batch-N active sets":
# one layer's forward + input gradient + weight gradient, dense masked against per-sample sparse,
# 1 thread, fp32). The sparse path wins below this fraction of kept units (pairs / (N * D_out)).
SPARSE_MAX_FRACTION = 0.25


def use_sparse(mode, fraction):
    """The one place that chooses the batch-N path: `mode` is cfg.active_batch ('sparse', 'dense'
    or 'auto'); `fraction` the share of (sample, unit) pairs kept in this layer and step."""
    if mode == "auto":
        return fraction <= SPARSE_MAX_FRACTION
    return mode == "sparse"


class Ragged(NamedTuple):
    """Sets of a batch in CSR order: sample n's entries are ptr[n]:ptr[n + 1]."""
    ptr: np.ndarray      # (N + 1,) int64
    sample: np.ndarray   # (P,) int64 sample of each entry
    ids: np.ndarray      # (P,) int64 unit (or input) ids, increasing within a sample


def ragged(mask):
    """The non-zero entries of mask (N, D) sample by sample."""
    sample, ids = (np.ascontiguousarray(i, np.int64) for i in np.nonzero(mask))  # views of one array
    ptr = np.zeros(mask.shape[0] + 1, np.int64)
    np.cumsum(np.bincount(sample, minlength=mask.shape[0]), out=ptr[1:])
    return Ragged(ptr, sample, ids)


class BatchCache(NamedTuple):
    x: np.ndarray        # (N, D_in) layer input (zeros outside each sample's J_n)
    xin: Any             # Ragged non-zero inputs, None for layer 1 (dense input)
    sets: Ragged         # the kept (sample, unit) pairs
    scale: np.ndarray    # (P,) the mask's value at each pair
    act: Any             # activation cache of the pairs
    W: np.ndarray
    sel: np.ndarray      # (N, D_out) the mask, as the dense path keeps it

    @property
    def input(self):
        """The layer's input (N, D_in): the same accessor as base.Cache.input."""
        return self.x


def forward(l, a, layer, mask, z, act_forward, ledger):
    """The sparse path's forward: out (N, D_out) with f(z) * scale at the kept pairs, 0 elsewhere.
    z (N, D_out) is the dense pre-activation when the method computed it to choose (ADAPTIVE-
    DROPOUT), else None and only the kept pairs are computed."""
    N, D_in = a.shape
    sets = ragged(mask)
    P, itemsize = sets.ids.shape[0], a.itemsize
    xin = None
    if z is not None:
        zs = z[sets.sample, sets.ids]                          # already computed by the selection
    elif l == 0:
        zs = np.empty(P, a.dtype)
        KB.ragged_forward(a, layer.W, layer.b, sets.ptr, sets.ids, zs)   # EDBT §4 on S_n only
        ledger.add_cost(l, "forward", KB.ragged_forward_cost(N, P, D_in, itemsize))
    else:
        xin = ragged(a)
        zs = np.empty(P, a.dtype)
        xv = a[xin.sample, xin.ids]
        KB.ragged_sparse_forward(xv, xin.ptr, xin.ids, layer.W, layer.b, sets.ptr, sets.ids, zs)
        ledger.add_cost(l, "forward", KB.ragged_sparse_forward_cost(
            N, P, xin.ids.shape[0], _pairs_by_inputs(sets, xin), itemsize))
    if l > 0 and xin is None:
        xin = ragged(a)
    scale = mask[sets.sample, sets.ids]
    a_s, act = act_forward(zs)
    out = np.zeros((N, layer.W.shape[0]), a.dtype)
    out[sets.sample, sets.ids] = a_s * scale
    return out, BatchCache(a, xin, sets, scale, act, layer.W, mask)


def backward(l, dout, cache, act_backward, need_dx, ledger):
    """The sparse path's backward: (dx or None, WeightGrad over the union rows, formed by a kernel)."""
    sets, W, x = cache.sets, cache.W, cache.x
    N, D_in = x.shape
    P, itemsize = sets.ids.shape[0], x.itemsize
    dz = act_backward(dout[sets.sample, sets.ids] * cache.scale, cache.act)   # Eq. 1 on the pairs
    dx = None
    if need_dx and cache.xin is None:                         # layer 1 (never asked by the engine)
        dx = np.empty((N, D_in), dz.dtype)
        KB.ragged_backward_input(dz, W, sets.ptr, sets.ids, dx)
        ledger.add_cost(l, "backward-input", KB.ragged_backward_input_cost(N, P, D_in, itemsize))
    elif need_dx:
        xin = cache.xin
        Q = xin.ids.shape[0]
        dxv = np.empty(Q, dz.dtype)
        KB.ragged_sparse_backward_input(dz, W, sets.ptr, sets.ids, xin.ptr, xin.ids, dxv)  # Eq. 1
        ledger.add_cost(l, "backward-input", KB.ragged_sparse_backward_input_cost(
            N, P, Q, _pairs_by_inputs(sets, xin), itemsize))
        dx = np.zeros((N, D_in), dz.dtype)
        dx[xin.sample, xin.ids] = dxv
    rows = np.empty(min(P, W.shape[0]), np.int64)
    pos = np.empty(P, np.int64)
    U = active_union(sets.ids, W.shape[0], rows, pos)
    rows = rows[:U]
    g = np.empty((U, D_in), dz.dtype)
    db = np.empty(U, dz.dtype)
    if cache.xin is None:                                     # Eq. 1, grad_W = a^{k-1} delta^k
        KB.weight_grad_rows(dz, x, sets.ptr, pos, g, db)
        cost = KB.weight_grad_rows_cost(N, P, U, D_in, itemsize)
    else:
        xin = cache.xin
        KB.sparse_weight_grad_rows(dz, x[xin.sample, xin.ids], xin.ptr, xin.ids, sets.ptr, pos, g, db)
        cost = KB.sparse_weight_grad_rows_cost(N, P, xin.ids.shape[0], _pairs_by_inputs(sets, xin),
                                               U, D_in, itemsize)
    ledger.add_cost(l, "backward-weight", cost)
    G = np.zeros((N, U), dz.dtype)                             # the same gradient, factored
    G[sets.sample, pos] = dz
    return dx, WeightGrad(G, x, rows, db, dW_rows=g)


def masked_weight_grad(dz, x, mask):
    """The dense path's weight gradient restricted to the union of the batch's sets: dz (N, D_out)
    is zero outside the mask, so only the rows some sample kept have a gradient."""
    rows = np.flatnonzero(mask.any(axis=0))
    return WeightGrad(np.ascontiguousarray(dz[:, rows]), x, rows)


def _pairs_by_inputs(sets, xin):
    """sum_n K_n J_n: the entries of W a sparse-input product over the batch touches."""
    return int(np.dot(np.diff(sets.ptr), np.diff(xin.ptr)))
