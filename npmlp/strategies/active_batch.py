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
from kernels import active_batch_adam as KA
from kernels.active_weight_grad import active_union

from ..layers import WeightGrad

# The crossover, measured by bench/bench_active_batch.py (bench/README.md, "Batch-N active sets":
# one layer's forward + input gradient + weight gradient, dense masked against per-sample sparse,
# 1 thread, fp32, batch 10/20/50, layers 784x1000, 1000x1000, 1000x4000). The sparse path wins
# below these fractions of kept (sample, unit) pairs. Its cost grows with the kept fraction f times
# the input's non-zeros: f * D_in per pair on layer 1 (dense pixels; dense/sparse 1.2-1.5x at 30%,
# 0.6-1.0x at 50%), f^2-like on deeper layers whose input is the previous layer's kept units, whose
# scattered reads make the crossover earlier (1.9-3.0x at 10%, 0.8-1.3x at 20%, batch 10-50). The
# batch size moved the crossover little over 10-50, so the rule does not depend on it.
SPARSE_MAX_FRACTION_DENSE_INPUT = 0.3
SPARSE_MAX_FRACTION_SPARSE_INPUT = 0.15


def use_sparse(mode, fraction, dense_input):
    """The one place that chooses the batch-N path: `mode` is cfg.active_batch ('sparse', 'dense'
    or 'auto'); `fraction` the share of (sample, unit) pairs kept in this layer and step;
    `dense_input` for layer 1 (pixels), whose input is not sparse."""
    if mode == "auto":
        return fraction <= (SPARSE_MAX_FRACTION_DENSE_INPUT if dense_input
                            else SPARSE_MAX_FRACTION_SPARSE_INPUT)
    return mode == "sparse"


class Ragged(NamedTuple):
    """Non-zeros of a batch in CSR order: sample n's entries are ptr[n]:ptr[n + 1]."""
    ptr: np.ndarray      # (N + 1,) int64
    sample: np.ndarray   # (P,) int64 sample of each entry
    ids: np.ndarray      # (P,) int64 unit (or input) ids, increasing within a sample
    vals: np.ndarray     # (P,) the values there (a mask's scale, an input's activation)


def ragged(a):
    """The non-zero entries of a (N, D) sample by sample (kernels/active_batch.py:csr_count and
    csr_fill)."""
    ptr = np.empty(a.shape[0] + 1, np.int64)
    P = KB.csr_count(a, ptr)
    r = Ragged(ptr, np.empty(P, np.int64), np.empty(P, np.int64), np.empty(P, a.dtype))
    KB.csr_fill(a, ptr, r.sample, r.ids, r.vals)
    return r


class BatchCache(NamedTuple):
    x: np.ndarray        # (N, D_in) layer input (zeros outside each sample's J_n)
    xin: Any             # Ragged non-zero inputs, None for layer 1 (dense input)
    sets: Ragged         # the kept (sample, unit) pairs; vals = the mask's scale
    pj: int              # sum_n K_n J_n, the entries of W a sparse-input product touches
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
    xin = None if l == 0 else ragged(a)
    pj = 0 if xin is None else int(np.dot(np.diff(sets.ptr), np.diff(xin.ptr)))
    if z is not None:
        zs = z[sets.sample, sets.ids]                          # already computed by the selection
    elif xin is None:
        zs = np.empty(P, a.dtype)
        KB.ragged_forward(a, layer.W, layer.b, sets.ptr, sets.ids, zs)   # EDBT §4 on S_n only
        ledger.add_cost(l, "forward", KB.ragged_forward_cost(N, P, D_in, itemsize))
    else:
        zs = np.empty(P, a.dtype)                              # EDBT §4 on S_n x J_n only
        KB.ragged_sparse_forward(xin.vals, xin.ptr, xin.ids, layer.W, layer.b, sets.ptr, sets.ids, zs)
        ledger.add_cost(l, "forward", KB.ragged_sparse_forward_cost(N, P, xin.ids.shape[0], pj,
                                                                    itemsize))
    a_s, act = act_forward(zs)
    out = np.zeros((N, layer.W.shape[0]), a.dtype)
    out[sets.sample, sets.ids] = a_s * sets.vals
    return out, BatchCache(a, xin, sets, pj, act, layer.W, mask)


class RowPairs(NamedTuple):
    """The weight gradient of the union rows, not yet formed: the kept pairs' deltas and the layer's
    input. The optimiser forms the rows (`fill`, into its own buffer) or, for Adam, forms each row
    inside its update pass (`adam`, kernels/active_batch_adam.py), so no (U, D_in) array is written
    and read back."""
    dz: np.ndarray       # (P,) deltas of the pairs
    x: np.ndarray        # (N, D_in) the layer's input
    xin: Any             # Ragged non-zero inputs, None for layer 1 (dense input)
    ptr: np.ndarray      # (N + 1,) the pairs of each sample
    pos: np.ndarray      # (P,) each pair's row among the union rows
    U: int

    def fill(self, g):
        """g (U, D_in) = the union rows' gradient, Eq. 1 grad_W = a^{k-1} delta^k."""
        db = np.empty(self.U, g.dtype)
        if self.xin is None:
            KB.weight_grad_rows(self.dz, self.x, self.ptr, self.pos, g, db)
        else:
            x = self.xin
            KB.sparse_weight_grad_rows(self.dz, x.vals, x.ptr, x.ids, self.ptr, self.pos, g, db)

    def adam(self, W, m, v, visit, rowpos, step, corr, b1, b2, c1, c2, eps, scratch):
        """kernels/update.py's Adam over `visit`, each row's gradient formed inside the pass."""
        x, sparse = self.xin, self.xin is not None
        xptr, xi, xv = (x.ptr, x.ids, x.vals) if sparse else (self.ptr, self.pos, self.dz)
        KA.adam_pairs(W, m, v, self.dz, self.x, xptr, xi, xv, sparse, self.ptr, self.pos, self.U,
                      visit, rowpos, step, corr, b1, b2, c1, c2, eps, scratch)


def pair_delta(dout, cache, act_backward):
    """delta (P,) at the kept pairs: Eq. 1's f'(z) ⊙ (the upstream gradient times the mask's scale)."""
    sets = cache.sets
    return act_backward(dout[sets.sample, sets.ids] * sets.vals, cache.act)


def backward(l, dout, cache, act_backward, need_dx, ledger):
    """The sparse path's backward: (dx or None, WeightGrad over the union rows, carrying the pairs
    the optimiser forms them from)."""
    sets, W, x, xin = cache.sets, cache.W, cache.x, cache.xin
    N, D_in = x.shape
    P, itemsize = sets.ids.shape[0], x.itemsize
    dz = pair_delta(dout, cache, act_backward)                # Eq. 1 on the pairs
    dx = None
    if need_dx and xin is None:                               # layer 1 (never asked by the engine)
        dx = np.empty((N, D_in), dz.dtype)
        KB.ragged_backward_input(dz, W, sets.ptr, sets.ids, dx)
        ledger.add_cost(l, "backward-input", KB.ragged_backward_input_cost(N, P, D_in, itemsize))
    elif need_dx:
        Q = xin.ids.shape[0]
        dxv = np.empty(Q, dz.dtype)
        KB.ragged_sparse_backward_input(dz, W, sets.ptr, sets.ids, xin.ptr, xin.ids, dxv)  # Eq. 1
        ledger.add_cost(l, "backward-input", KB.ragged_sparse_backward_input_cost(N, P, Q, cache.pj,
                                                                                  itemsize))
        dx = np.zeros((N, D_in), dz.dtype)
        dx[xin.sample, xin.ids] = dxv
    rows = np.empty(min(P, W.shape[0]), np.int64)
    pos = np.empty(P, np.int64)
    U = active_union(sets.ids, W.shape[0], rows, pos)
    if xin is None:                                           # the products the pairs imply
        cost = KB.weight_grad_rows_cost(N, P, U, D_in, itemsize)
    else:
        cost = KB.sparse_weight_grad_rows_cost(N, P, xin.ids.shape[0], cache.pj, U, D_in, itemsize)
    ledger.add_cost(l, "backward-weight", cost)
    G = np.zeros((N, U), dz.dtype)                             # the same gradient, factored
    G[sets.sample, pos] = dz
    return dx, WeightGrad(G, x, rows[:U], pairs=RowPairs(dz, x, xin, sets.ptr, pos, U))


def masked_weight_grad(dz, x, mask):
    """The dense path's weight gradient restricted to the union of the batch's sets: dz (N, D_out)
    is zero outside the mask, so only the rows some sample kept have a gradient."""
    rows = np.flatnonzero(mask.any(axis=0))
    return WeightGrad(np.ascontiguousarray(dz[:, rows]), x, rows)
