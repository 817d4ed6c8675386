"""STANDARD: exact backpropagation. The base class every sampling method builds on.

A strategy computes one layer at a time for the engine's single training loop:

    forward(l, a, layer, ctx, sel=None)      -> (a_next, cache)   hidden layers apply the activation,
                                                                   the output layer returns logits
    backward(l, dout, cache, ctx, need_dx)   -> (da_prev or None, WeightGrad)
    eval_forward(l, a, layer)                -> a_next             inference (exact for STANDARD)
    after_step(ctx, params)                  hook after the optimiser (ALSH rebuilds its tables)
    start_epoch(epoch, n) / end_epoch(params)   epoch hooks (ALSH's schedule and end-of-epoch rebuild)
    epoch_stats()                            -> dict of per-epoch statistics for the epoch line

The methods are pure: they return values and write nothing outside their cache and the strategy's own
bookkeeping (statistics, ALSH's tables); parameters are written by the optimiser alone. What a method
needs from the step comes in `ctx` (the generator, the batch size, the step number). A sampling method
records its random choice in `cache.sel` and accepts it back through `sel=`, so a numerical gradient
check can freeze it. It records the products it really performs in the ledger.

Shape legend: N batch, D_in layer input width, D_out layer width; a (N, D_in), W (D_out, D_in).
"""
from typing import Any, NamedTuple

from kernels.cost import matmul_cost

from ..layers import activation_pair, dense_backward, dense_forward


class StepContext(NamedTuple):
    """What one training step hands every strategy call."""
    rng: Any          # np.random.Generator for this step's random choices (None: must not draw)
    batch_size: int   # N, the samples of this step
    step: int         # this step's number, counted from 1 (after_step sees the same number)


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
    # The weight gradient is the exact a^{k-1} delta^k with the input gradient W delta (Eq. 1): an
    # optimiser may then fuse both with its update (the engine's one fused branch, engine.py).
    exact_dense_backward = True
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
    def forward(self, l, a, layer, ctx, sel=None):
        z, dcache = dense_forward(a, layer.W, layer.b)          # EDBT §4: z^k = a^{k-1} W^k + b^k
        n, d_in = a.shape
        self.ledger.add_cost(l, "forward", matmul_cost(n, d_in, layer.W.shape[0], a.itemsize))
        if self.is_output(l):
            return z, Cache(dcache, None, layer.W)
        out, acache = self.act_forward(z)                          # a^k = f(z^k)
        return out, Cache(dcache, acache, layer.W)

    def delta(self, l, dout, cache):
        """delta^k = f'(z^k) ⊙ dout (Eq. 1); the output layer's dout is already dL/dz."""
        return dout if self.is_output(l) else self.act_backward(dout, cache.act)

    def backward(self, l, dout, cache, ctx, need_dx=True):
        dz = self.delta(l, dout, cache)
        dx, grad = dense_backward(dz, cache.dense, cache.W, need_dx)
        if need_dx:
            n, d_out = dz.shape
            self.ledger.add_cost(l, "backward-input",
                                 matmul_cost(n, d_out, cache.W.shape[1], dz.itemsize))
        return dx, grad

    # --- inference and hooks ----------------------------------------------------------------
    def eval_forward(self, l, a, layer):
        z = dense_forward(a, layer.W, layer.b)[0]
        return z if self.is_output(l) else self.act_forward(z)[0]

    def after_step(self, ctx, params):
        """Called after the optimiser's step (ctx.step counts it); reads params, never writes."""

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
