"""TOPK: exact top-k active sets scored from sparse inputs. Not in the paper.

ALSH-APPROX hashes to find each sample's units with the largest inner products (EDBT Eq. 4) and
finds few of them (notes: recall 6.5-8% of the true top 5%). TOPK computes them. For each sample and
hidden layer k, with J the non-zero entries of the layer's input (the previous layer's kept units;
the image's non-zero pixels for layer 1):

    z^k   = a^{k-1}_J W^k[J, :] + b^k        every unit, from the J non-zero inputs (EDBT §4)
    S     = top_k(z^k)                        the k = max(floor(topk_active * D_out), 1) largest,
                                              ties to the lower unit id (kernels/topk.py)
    a^k_j = f(z^k_j) for j in S, 0 otherwise  (no rescaling)
    delta^k_S    = f'(z^k_S) ⊙ (W^{k+1} delta^{k+1})_S                    (EDBT Eq. 1 on S)
    da^{k-1}_J   = W^k[J, S] delta^k_S                                     (Eq. 1 on the block)
    ∇W^k[J, S]   = (a^{k-1}_J)^T delta^k_S,   ∇b^k_S = delta^k_S          (Eq. 1 on the block)
The output layer keeps every unit; its input is sparse, so it is scored the same way.

What is approximated: nothing in the selection. The network is a different function from STANDARD's:
a unit outside the top k outputs 0, in training and (by default) in evaluation. The gradient treats
the selection as fixed (it is piecewise constant in W), as every active-set method does.
Exact limit: topk_active = 1 keeps every unit: forward pass, loss and gradients are STANDARD's, and
so is every plain-SGD step (an element outside the block has a zero gradient there too).

What is saved (batch 1): scoring J*D_out multiply-adds instead of D_in*D_out (J ~ 50 of 1000 after
layer 1, ~150 of 784 MNIST pixels); backward-input and the weight gradient J*K instead of
D_in*D_out; the update visits J*K weights. The selection is O(D_out) per sample (ledger "overhead").

Layout (chosen here, and only here): `weight_layout = "input-major"`. __init__ stores every layer's W
in Fortran order (params.apply_layout), so W keeps its logical (D_out, D_in) shape and values for
every reader (evaluation, checkpoints, analyses), while W.T, the paper's W^k (D_in, D_out), is
C-contiguous: one input's outgoing weights are one contiguous row, which is what makes the
scoring cheap (with output-major rows the same gather touches nearly every cache line of W). The
optimiser's state follows (zeros_like(W)); the strategy must therefore be built before the optimiser
(runner.build_state does so; tests/test_strategies_topk.py checks the state's layout).

Optimiser: only the block J x S of each layer (and b_S) is updated, with lazy state
(npmlp/optim_block.py): per-element moments, Adam's bias correction counted per unit (the steps in
which the unit was kept). `--optimizer-state dense` is refused.
Batch N: per-sample sets (scoring, selection and backward per sample); the update block is the union
of the batch's non-zero inputs x the union of its kept units, each sample's gradient zero outside its
own block (so an element of the union block that no sample touched still takes an Adam step at g=0).

Evaluation: `--topk-eval sparse` (default) applies the same top-k rule: it is part of the network's
definition. `dense` evaluates every unit: each layer then receives far more input mass than it was
trained on (measured with the exact top 5%: layer-3 activation sum 52 on active sets vs 342 dense;
ALSH at 5 layers: 36.8% sparse vs 9.8% dense), so dense evaluation of a sparse-trained net is worse.

Shape legend: N batch, D_in/D_out layer widths, J non-zero inputs, K = k kept units;
W (D_out, D_in) logical, W.T (D_in, D_out) C-contiguous; S (N, K) kept ids ascending per sample.
"""
from typing import Any, NamedTuple, Optional

import numpy as np

from kernels import topk as KT

from ..layers import BlockGrad, dense_forward
from ..params import apply_layout
from .active_set import ActiveSetStrategy


class TopkCache(NamedTuple):
    x: np.ndarray                 # (N, D_in) the layer input
    xi: Optional[np.ndarray]      # (J,) its non-zero positions (batch 1), else None
    act: Any                      # activation cache of the kept units (N, K); None on the output
    W: np.ndarray                 # (D_out, D_in) input-major weights used
    sel: Optional[np.ndarray]     # (N, K) kept ids; None on the output layer (every unit)

    @property
    def input(self):
        return self.x


class Topk(ActiveSetStrategy):
    name = "topk"
    weight_layout = "input-major"

    def __init__(self, cfg, params, ledger):
        super().__init__(cfg, params, ledger)
        apply_layout(params, self.weight_layout)
        self.k = [max(int(cfg.topk_active * p.W.shape[0]), 1) for p in params]

    # --- forward ----------------------------------------------------------------------------------
    def _score(self, l, a, layer):
        """z (N, D_out) of every unit from the non-zero inputs (EDBT §4), and x's non-zero ids
        (batch 1)."""
        n, d_out = a.shape[0], layer.W.shape[0]
        WT = layer.W.T
        z = np.empty((n, d_out), a.dtype)
        if n == 1:
            xi = np.flatnonzero(a[0])
            KT.score_1(a[0, xi], xi, WT, layer.b, z[0])
            nnz = xi.shape[0]
        else:
            xi = None
            KT.score(a, WT, layer.b, z)
            nnz = np.count_nonzero(a)
        self.ledger.add_cost(l, "forward", KT.score_cost(nnz, d_out, a.itemsize, n))
        return z, xi

    def _select(self, l, z):
        n, d_out = z.shape
        k = self.k[l]
        with self.ledger.phase("overhead"):
            S = np.empty((n, k), np.int64)
            KT.select_topk(z, k, S)
            self.ledger.add_cost(l, "overhead", KT.select_cost(d_out, k, z.itemsize, n))
        return S

    def _keep(self, z, S):
        """a_S = f(z_S), scattered into zeros (N, D_out); returns (out, activation cache)."""
        a_s, act = self.act_forward(_gather(z, S))
        out = np.zeros_like(z)
        if S.shape[0] == 1:
            out[0, S[0]] = a_s[0]
        else:
            np.put_along_axis(out, S, a_s, axis=1)
        return out, act

    def forward(self, l, a, layer, ctx, sel=None):
        z, xi = self._score(l, a, layer)
        if self.is_output(l):
            return z, TopkCache(a, xi, None, layer.W, None)
        S = self._select(l, z) if sel is None else sel
        out, act = self._keep(z, S)
        self.kept[l] += S.size
        self.seen += a.shape[0] if l == 0 else 0
        return out, TopkCache(a, xi, act, layer.W, S)

    # --- backward ---------------------------------------------------------------------------------
    def backward(self, l, dout, cache, ctx, need_dx=True):
        x, S = cache.x, cache.sel
        n, d_in = x.shape
        if S is None:                                   # output layer: every unit
            S = np.broadcast_to(self._all_units[l], (n, dout.shape[1]))
            dz = dout
        else:
            dz = self.act_backward(_gather(dout, S), cache.act)   # Eq. 1 on S
        dz = np.ascontiguousarray(dz)
        WT = cache.W.T
        if n == 1:
            rows, cols = cache.xi, S[0]
            A = x[:, rows]
            G = dz
        else:
            rows = np.flatnonzero(np.any(x != 0, axis=0))
            cols = np.unique(S)
            A = x[:, rows]
            G = np.zeros((n, cols.shape[0]), dz.dtype)
            np.put_along_axis(G, np.searchsorted(cols, S), dz, axis=1)
        dx = None
        if need_dx:
            if n == 1:
                dxv = np.empty(rows.shape[0], dz.dtype)
                KT.block_backward_input_1(dz[0], np.ascontiguousarray(cols), rows, WT, dxv)
                dx = np.zeros((1, d_in), dz.dtype)
                dx[0, rows] = dxv                   # Eq. 1: W delta on the block J x S
                nnz = rows.shape[0]
            else:
                dx = np.empty((n, d_in), dz.dtype)
                KT.block_backward_input(dz, np.ascontiguousarray(S), x, WT, dx)
                nnz = np.count_nonzero(x)
            self.ledger.add_cost(l, "backward-input",
                                 KT.block_backward_input_cost(nnz, S.shape[1], dz.itemsize))
        return dx, BlockGrad(A, G, rows, np.ascontiguousarray(cols), d_in)

    # --- evaluation -------------------------------------------------------------------------------
    def eval_forward(self, l, a, layer):
        if self.is_output(l) or self.cfg.topk_eval == "dense":
            return super().eval_forward(l, a, layer)
        z = dense_forward(a, layer.W, layer.b)[0]       # BLAS on the (F-ordered) W: all units
        S = np.empty((z.shape[0], self.k[l]), np.int64)
        KT.select_topk(z, self.k[l], S)                 # the training rule (kernels/topk.py)
        return self._keep(z, S)[0]


def _gather(z, S):
    """z[n, S[n]] for every n -> (N, K) (the batch-1 case without take_along_axis's overhead)."""
    return z[:, S[0]] if S.shape[0] == 1 else np.take_along_axis(z, S, axis=1)
