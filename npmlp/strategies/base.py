"""STANDARD: exact backpropagation. The base class every sampling method builds on.

A strategy computes one layer at a time for the engine's single training loop:

    forward(l, a, layer, rng, sel=None)  -> (a_next, cache)   hidden layers apply the activation,
                                                               the output layer returns logits
    backward(l, dout, cache, need_dx)    -> (da_prev or None, WeightGrad)
    eval_forward(l, a, layer)            -> a_next             inference (exact for STANDARD)
    after_step(step, params)             hook after the optimiser (ALSH rebuilds its tables here)
    start_epoch(epoch, n) / end_epoch(params)   epoch hooks (ALSH's schedule and end-of-epoch rebuild)
    epoch_stats()                        -> dict of per-epoch statistics for the epoch line

A sampling method records its random choice in `cache.sel` and accepts it back through `sel=`, so a
numerical gradient check can freeze it. It records the products it really performs in the ledger.

Shape legend: N batch, D_in layer input width, D_out layer width; a (N, D_in), W (D_out, D_in).
"""
from typing import Any, NamedTuple

import numpy as np
from kernels import update as KU
from kernels.cost import matmul_cost

from ..layers import WeightGrad, activation_pair, dense_backward, dense_forward


class Cache(NamedTuple):
    dense: Any      # layers.DenseCache: the layer input
    act: Any        # activation cache (None on the output layer)
    W: Any          # the weights used (needed for the input gradient)
    sel: Any = None  # the strategy's random choice (None for STANDARD)

    @property
    def input(self):
        """The layer's input (N, D_in), whatever the cache type (see active_set.SparseCache)."""
        return self.dense.x


class Standard:
    name = "standard"
    # Optimiser state for row-sparse gradients: dense (EDBT) unless a strategy says otherwise.
    sparse_optimizer_state = False

    def __init__(self, cfg, params, ledger):
        self.cfg = cfg
        self.ledger = ledger
        self.n_layers = len(params)
        self.act_forward, self.act_backward = activation_pair(cfg.activation, cfg.leaky_slope)

    def is_output(self, l):
        return l == self.n_layers - 1

    # --- training ---------------------------------------------------------------------------
    def forward(self, l, a, layer, rng, sel=None):
        z, dcache = dense_forward(a, layer.W, layer.b)          # EDBT §4: z^k = a^{k-1} W^k + b^k
        n, d_in = a.shape
        self.ledger.add_cost(l, "forward", matmul_cost(n, d_in, layer.W.shape[0], a.itemsize))
        if self.is_output(l):
            return z, Cache(dcache, None, layer.W)
        out, acache = self.act_forward(z)                          # a^k = f(z^k)
        return out, Cache(dcache, acache, layer.W)

    # Set by the engine for one step when the optimiser is plain SGD at batch 1: the input gradient
    # and the weight update then share one pass over W (kernels/update.py:sgd_backward_fused), and
    # the update's time is counted as backward time.
    fused_sgd_lr = None

    def backward(self, l, dout, cache, need_dx=True):
        dz = dout if self.is_output(l) else self.act_backward(dout, cache.act)  # Eq. 1: f'(z) ⊙ ...
        if self.fused_sgd_lr is not None and need_dx and dz.shape[0] == 1:
            return self._backward_fused_sgd(l, dz, cache)
        dx, grad = dense_backward(dz, cache.dense, cache.W, need_dx)
        if need_dx:
            n, d_out = dz.shape
            self.ledger.add_cost(l, "backward-input",
                                 matmul_cost(n, d_out, cache.W.shape[1], dz.itemsize))
        return dx, grad

    def _backward_fused_sgd(self, l, dz, cache):
        W, x = cache.W, cache.dense.x
        dx = np.empty((1, W.shape[1]), dz.dtype)
        # Eq. 1 (W delta, with the old W) and W -= lr a^{k-1} delta^k, in one pass over W
        KU.sgd_backward_fused(W, dz[0], x[0], W.dtype.type(self.fused_sgd_lr), dx[0])
        d_out, d_in = W.shape
        c = KU.sgd_backward_fused_cost(d_out, d_in, W.itemsize)
        self.ledger.add(l, "backward-input", d_out * d_in, c.bytes_read, 0)
        self.ledger.add(l, "backward-weight", d_out * d_in, 0, 0)
        self.ledger.add(l, "update", d_out * d_in, 0, c.bytes_written)
        return dx, WeightGrad(dz, x, applied=True)

    # --- inference and hooks ----------------------------------------------------------------
    def eval_forward(self, l, a, layer):
        z = dense_forward(a, layer.W, layer.b)[0]
        return z if self.is_output(l) else self.act_forward(z)[0]

    def after_step(self, step, params):
        pass

    def start_epoch(self, epoch, n_samples):
        """Called before the first step of each epoch (epoch counted from 0)."""

    def end_epoch(self, params):
        """Called after the last step of each epoch, before evaluation."""

    def epoch_stats(self):
        return {}

    def state_arrays(self):
        """Arrays a checkpoint must keep to resume bit-identically (none for STANDARD)."""
        return {}

    def load_state_arrays(self, arrays, params):
        pass
