"""Sampling from the current layer (EDBT §5): each hidden layer computes only a subset of its units.

DROPOUT, ADAPTIVE-DROPOUT and ALSH-APPROX differ only in how they choose the subset (and how they scale
the kept units); this base class does the rest, so that a dropped unit is *not computed*, not computed
and then zeroed (the EDBT code's dense products on masked matrices):

batch 1 (the paper's stochastic setting), for a hidden layer with active units S (K of D_out) whose
input has J non-zero entries (the previous layer's kept units; every input pixel for layer 1):
    forward          z_S = W[S][:, J] x_J + b_S                 K*J MACs       (EDBT §4 on S only)
    output layer     z   = W[:, J] x_J + b                      C*J MACs
    backward-input   dx_J = dz_S W[S][:, J]                     K*J MACs       (Eq. 1 on S x J)
    backward-weight  dW[S] = dz_S^T x   (formed inside the fused row update, rows S only)
    update           rows S only with --optimizer-state sparse (lazy state, the paper's "sparse
                     updates"); every row with --optimizer-state dense (the EDBT code's Adam)
batch N > 1: each sample keeps its own units (a mask (N, D_out)); they are computed per sample with
the ragged kernels (sparse path) or as dense products masked afterwards (dense path), whichever the
measured crossover in strategies/active_batch.py:use_sparse picks for the kept fraction
(`--active-batch auto|sparse|dense`). Either way only the rows some sample kept get a gradient.

Subclasses implement `choose(l, x, xi, layer, rng) -> Selection` (batch 1) and
`choose_mask(l, a, z, layer, rng) -> mask (N, D_out)` (batch N; the mask holds the scale of kept units
and 0 for dropped ones; z is None unless the class sets `needs_dense_z`). The choice is kept in the
cache and can be passed back with `sel=` to freeze it.

Shape legend: x (D_in,) one sample's input; xi (J,) its non-zero positions; S = idx (K,) sorted unit
ids; W (D_out, D_in) (the paper's W^k transposed: its column j is our row j).
"""
from typing import Any, NamedTuple, Optional

import numpy as np

from kernels import active_backward as KB
from kernels import active_forward as KF
from kernels.cost import matmul_cost

from ..layers import WeightGrad, dense_forward
from . import active_batch as AB
from .base import Cache, Standard


class Selection(NamedTuple):
    idx: np.ndarray             # (K,) int64 kept units, sorted
    scale: Any                  # scalar or (K,): multiplies the kept units' activations
    z: Optional[np.ndarray] = None  # (K,) pre-activations, when choosing already computed them


class SparseCache(NamedTuple):
    x: np.ndarray               # (D_in,) layer input (zeros outside xi)
    xi: np.ndarray              # (J,) non-zero input positions
    act: Any                    # activation cache of the kept units
    W: np.ndarray
    sel: Selection

    @property
    def input(self):
        """The layer's input, (D_in,): the same accessor as base.Cache.input."""
        return self.x


class ActiveSetStrategy(Standard):
    sparse_optimizer_state = True
    needs_dense_z = False   # choose_mask reads every unit's pre-activation (ADAPTIVE-DROPOUT)

    def __init__(self, cfg, params, ledger):
        super().__init__(cfg, params, ledger)
        self.sparse_optimizer_state = cfg.optimizer_state == "sparse"
        self._all_units = [np.arange(p.W.shape[0], dtype=np.int64) for p in params]
        self._all_inputs = [np.arange(p.W.shape[1], dtype=np.int64) for p in params]
        self.kept = np.zeros(len(params))   # kept units per layer, summed over samples (stats)
        self.seen = 0

    # --- to implement ---------------------------------------------------------------------------
    def choose(self, l, x, xi, layer, rng):
        raise NotImplementedError

    def choose_mask(self, l, a, z, layer, rng):
        """a (N, D_in) input, z (N, D_out) pre-activations or None (both read only) -> mask
        (N, D_out): the scale of a kept unit, 0 for a dropped one."""
        raise NotImplementedError

    # --- forward ----------------------------------------------------------------------------------
    def forward(self, l, a, layer, ctx, sel=None):
        if ctx.batch_size != 1:
            return self._forward_batch(l, a, layer, ctx.rng, sel)
        x = a[0]
        # Layer 1's input (pixels) is treated as dense, like STANDARD does; deeper inputs are the
        # previous layer's kept units, the only non-zeros there.
        xi = self._all_inputs[0] if l == 0 else np.flatnonzero(x)
        if self.is_output(l):
            sel = Selection(self._all_units[l], 1.0)
        elif sel is None:
            with self.ledger.phase("overhead"):
                sel = self.choose(l, x, xi, layer, ctx.rng)
        else:
            sel = sel._replace(z=None)  # a frozen choice: recompute z from the current weights
        K = sel.idx.shape[0]
        if sel.z is None:
            z = np.empty(K, x.dtype)
            self._rows_forward(l, x, xi, layer, sel.idx, z)   # EDBT §4 on the kept units only
        else:
            z = sel.z.copy()
        if self.is_output(l):
            return z[None, :], SparseCache(x, xi, None, layer.W, sel)
        a_s, act = self.act_forward(z)
        out = np.zeros((1, layer.W.shape[0]), x.dtype)
        out[0, sel.idx] = a_s * sel.scale
        self.kept[l] += K
        self.seen += l == 0
        return out, SparseCache(x, xi, act, layer.W, sel)

    def _rows_forward(self, l, x, xi, layer, idx, z):
        """z (K,) = W[idx][:, xi] x[xi] + b[idx], recorded in the ledger."""
        K, itemsize = idx.shape[0], x.itemsize
        if l == 0:
            KF.active_forward_1(x, layer.W, layer.b, idx, z)
            cost = KF.active_forward_1_cost(K, x.shape[0], itemsize)
        else:
            KF.sparse_forward_1(x[xi], xi, layer.W, layer.b, idx, z)
            cost = KF.sparse_forward_1_cost(K, xi.shape[0], itemsize)
        self.ledger.add_cost(l, "forward", cost)

    def _forward_batch(self, l, a, layer, rng, sel):
        """Batch N: choose a mask, then compute the kept units per sample (sparse path) or the
        dense product masked (dense path), as strategies/active_batch.py:use_sparse decides."""
        z = dcache = None
        if self.is_output(l) or self.needs_dense_z:
            z, dcache = self._dense_z(l, a, layer)
        if self.is_output(l):
            return z, Cache(dcache, None, layer.W)
        if sel is None:
            with self.ledger.phase("overhead"):
                sel = self.choose_mask(l, a, z, layer, rng)
        kept = np.count_nonzero(sel)
        self.kept[l] += kept
        self.seen += a.shape[0] if l == 0 else 0
        if AB.use_sparse(self.cfg.active_batch, kept / sel.size, dense_input=l == 0):
            return AB.forward(l, a, layer, sel, z, self.act_forward, self.ledger)
        if z is None:
            z, dcache = self._dense_z(l, a, layer)
        out, act = self.act_forward(z)
        out = out * sel  # not in place: the activation cache may be `out` itself
        return out, Cache(dcache, act, layer.W, sel)

    def _dense_z(self, l, a, layer):
        z, dcache = dense_forward(a, layer.W, layer.b)           # EDBT §4, every unit
        self.ledger.add_cost(l, "forward", matmul_cost(a.shape[0], a.shape[1], layer.W.shape[0],
                                                       a.itemsize))
        return z, dcache

    # --- backward ---------------------------------------------------------------------------------
    # A batch-1 step takes the sparse path below, a batch-N step the ragged kernels or masked
    # dense products: never the engine's fused dense step.
    exact_dense_backward = False

    def backward(self, l, dout, cache, ctx, need_dx=True):
        if isinstance(cache, AB.BatchCache):
            return AB.backward(l, dout, cache, self.act_backward, need_dx, self.ledger)
        if not isinstance(cache, SparseCache):
            if cache.sel is None:
                return super().backward(l, dout, cache, ctx, need_dx)
            dout = dout * cache.sel   # the mask (and its scale) is part of the forward map
            dx, grad = super().backward(l, dout, cache, ctx, need_dx)
            return dx, AB.masked_weight_grad(grad.G, grad.A, cache.sel)   # rows some sample kept
        itemsize = cache.x.itemsize
        idx, scale = cache.sel.idx, cache.sel.scale
        if self.is_output(l):
            dz = dout[0]
        else:
            dz = self.act_backward(dout[0, idx] * scale, cache.act)   # Eq. 1 on the kept units
        dx = None
        if need_dx:
            J = cache.xi.shape[0]
            dxv = np.empty(J, dz.dtype)
            KB.sparse_backward_input_1(dz, cache.W, idx, cache.xi, dxv)   # Eq. 1: W delta on S x J
            self.ledger.add_cost(l, "backward-input",
                                 KB.sparse_backward_input_1_cost(idx.shape[0], J, itemsize))
            dx = np.zeros((1, cache.x.shape[0]), dz.dtype)
            dx[0, cache.xi] = dxv
        rows = None if self.is_output(l) else idx
        return dx, WeightGrad(dz[None, :], cache.x[None, :], rows)

    # --- statistics -------------------------------------------------------------------------------
    def epoch_stats(self):
        n = max(self.seen, 1)
        stats = {f"stat_active_l{l + 1}": float(self.kept[l] / n)
                 for l in range(self.n_layers - 1)}
        self.kept[:] = 0
        self.seen = 0
        return stats
