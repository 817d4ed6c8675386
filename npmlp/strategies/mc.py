"""MC-APPROX: column-row sampling of the layer products (Adelman et al. 2019, 2021; EDBT §6, Eq. 5-7).

Every unit is kept; each matrix product is estimated from a sample of the terms of its inner
dimension. With W (D_out, D_in) (the paper's W^k transposed), for a layer z = x W^T + b:

    input gradient   dX = dY (N, D_out) @ W (D_out, D_in)    sampled over the D_out units
    weight gradient  dW = dY^T (D_out, N) @ X (N, D_in)      sampled over the N samples of the batch
    forward          z  = X (N, D_in) @ W^T (D_in, D_out)    sampled over the D_in inputs
                                                              (mc_mode='forward' only)
Each product keeps k = min(max(floor(rho n), k_min), n) pairs of its inner dimension n, chosen by the
sampler (Bernoulli-CRS with p_i = min(k c_i / sum c, 1), c_i = |A_:,i| |B_i,:|, EDBT Eq. 7, and
unbiased 1/p_i scaling by default; kernels/crs_sampling.py has the others). k = n is the exact
product, bit for bit the STANDARD one. The bias gradient and evaluation are always exact.

mc_mode='backward' (the default; EDBT evaluates MC-APPROX this way): the forward pass is exact, the
two backward products are sampled. mc_mode='forward': the forward product is sampled too, and
backpropagation runs through the sampled pairs (Adelman 2019's forward variant; the backward
products are then sampled again with their own ratios, so "forward 40% / backward 5%" is just
configuration). Defaults are the EDBT reading (notes/reference-implementations.md §5): rho = 0.1 and
k_min = 10 for both backward products at batch 20, i.e. the weight gradient from 10 of 20 samples and
a hidden layer's input gradient from 100 of 1000 units; the output layer's input gradient (10 units)
stays exact.

Shape legend: N batch; x (N, D_in); W (D_out, D_in); dz (N, D_out); S a kept index set with scale s.
"""
from typing import NamedTuple, Optional

import numpy as np

from kernels import crs_norms, crs_product, crs_sampling
from kernels.cost import matmul_cost

from ..layers import DenseCache, WeightGrad, dense_forward
from .base import Cache, Standard


class McSelection(NamedTuple):
    fwd: Optional[crs_sampling.CrsSelection]   # over D_in (forward mode), None when exact
    bwd: Optional[crs_sampling.CrsSelection]   # over D_out (input gradient)
    wu: Optional[crs_sampling.CrsSelection]    # over the batch (weight gradient)


def sample_count(rho, k_min, n):
    """k = min(max(floor(rho n), k_min), n)."""
    return min(max(int(np.floor(rho * n)), k_min), n)


class McApprox(Standard):
    name = "mc-approx"

    def __init__(self, cfg, params, ledger):
        super().__init__(cfg, params, ledger)
        self.forward_mode = cfg.mc_mode == "forward"
        scaled = cfg.mc_scale and cfg.mc_sampler != "topk"
        self.spec = crs_sampling.CrsSpec(cfg.mc_sampler, cfg.mc_dist, scaled, cfg.mc_mix_eps,
                                         cfg.mc_exact_k)
        self.kept = {"fwd": [0, 0], "bwd": [0, 0], "wu": [0, 0]}  # kept pairs, pairs of exact

    def _select(self, which, l, A, B, rho, k_min, rng, frozen):
        """A CrsSelection for A @ B (None = exact), with its overhead in the ledger."""
        n = A.shape[1]
        k = sample_count(rho, k_min, n)
        if frozen is not None or k >= n:
            sel = frozen
        else:
            with self.ledger.phase("overhead"):
                sel = crs_sampling.select(A, B, k, rng, self.spec)
            itemsize = A.itemsize
            cost = crs_sampling.sampling_cost(n, k, sel.kept, itemsize, self.spec)
            if self.spec.dist == "nps":
                cost = crs_norms.norm_products_cost(A.shape[0], n, B.shape[1], itemsize) + cost
            self.ledger.add_cost(l, "overhead", cost)
        if sel is not None and sel.idx is None:
            sel = None
        counter = self.kept[which]
        counter[0] += n if sel is None else sel.kept
        counter[1] += n
        return sel

    # --- forward ----------------------------------------------------------------------------------
    # Every product may be sampled: never the fused exact step.
    exact_dense_backward = False

    def forward(self, l, a, layer, ctx, sel=None):
        rng = ctx.rng
        if not self.forward_mode:
            out, cache = super().forward(l, a, layer, ctx)
            return out, cache._replace(sel=sel)
        cfg = self.cfg
        Wt = layer.W.T                                              # (D_in, D_out) view
        fwd = self._select("fwd", l, a, Wt, cfg.mc_rho_fwd, cfg.mc_kmin_fwd, rng,
                           None if sel is None else sel.fwd)
        if fwd is None:
            x_eff = a
            z = dense_forward(a, layer.W, np.zeros_like(layer.b))[0]   # (N, D_out), exact
            cost = matmul_cost(a.shape[0], a.shape[1], layer.W.shape[0], a.itemsize)
        else:
            x_eff = _scatter_columns(a, fwd)                        # X_S s, zeros elsewhere
            z = crs_product.sampled_matmul(a, Wt, fwd)              # EDBT Eq. 5 on the forward
            cost = crs_product.sampled_matmul_cost(a.shape[0], a.shape[1], layer.W.shape[0],
                                                   fwd.kept, a.itemsize, fwd.scale is not None)
        z += layer.b
        self.ledger.add_cost(l, "forward", cost)
        keep = McSelection(fwd, None if sel is None else sel.bwd, None if sel is None else sel.wu)
        if self.is_output(l):
            return z, Cache(DenseCache(x_eff), None, layer.W, keep)
        out, act = self.act_forward(z)
        return out, Cache(DenseCache(x_eff), act, layer.W, keep)

    # --- backward ---------------------------------------------------------------------------------
    def backward(self, l, dout, cache, ctx, need_dx=True):
        cfg, rng = self.cfg, ctx.rng
        dz = self.delta(l, dout, cache)                              # Eq. 1: f'(z) ⊙ ...
        sel = cache.sel if isinstance(cache.sel, McSelection) else McSelection(None, None, None)
        x = cache.dense.x                                            # X, or X_S s (forward mode)
        n = dz.shape[0]
        # weight gradient dW = dz^T X over the batch: kept as factors, formed by the optimiser
        wu = self._select("wu", l, dz.T, x, cfg.mc_rho_wu, cfg.mc_kmin_wu, rng, sel.wu)
        if wu is None:
            grad = WeightGrad(dz, x, None, dz.sum(axis=0))
        else:
            G = dz[wu.idx]                                           # (s, D_out)
            if wu.scale is not None:
                G = G * wu.scale[:, None]
            grad = WeightGrad(G, x[wu.idx], None, dz.sum(axis=0))   # bias gradient exact
        dx, bwd = None, sel.bwd
        if need_dx:
            W = cache.W
            if sel.fwd is not None:                                  # backprop through S_fwd only
                W = W[:, sel.fwd.idx]
                if sel.fwd.scale is not None:
                    W = W * sel.fwd.scale
            bwd = self._select("bwd", l, dz, W, cfg.mc_rho_bwd, cfg.mc_kmin_bwd, rng, sel.bwd)
            if bwd is None:
                dxs = dz @ W                                         # (N, D_out) @ (D_out, D_in')
                cost = matmul_cost(n, dz.shape[1], W.shape[1], dz.itemsize)
            else:
                dxs = crs_product.sampled_matmul(dz, W, bwd)         # EDBT Eq. 5 on W delta
                cost = crs_product.sampled_matmul_cost(n, dz.shape[1], W.shape[1], bwd.kept,
                                                       dz.itemsize, bwd.scale is not None)
            self.ledger.add_cost(l, "backward-input", cost)
            if sel.fwd is None:
                dx = dxs
            else:
                dx = np.zeros((n, cache.W.shape[1]), dxs.dtype)
                dx[:, sel.fwd.idx] = dxs
        return dx, grad

    # --- statistics -------------------------------------------------------------------------------
    def epoch_stats(self):
        stats = {f"stat_kept_{k}": v[0] / v[1] for k, v in self.kept.items() if v[1]}
        self.kept = {k: [0, 0] for k in self.kept}
        return stats


def _scatter_columns(a, sel):
    """(N, D_in) with a's columns in sel.idx times their scale, zeros elsewhere."""
    out = np.zeros_like(a)
    cols = a[:, sel.idx]
    out[:, sel.idx] = cols if sel.scale is None else cols * sel.scale
    return out
