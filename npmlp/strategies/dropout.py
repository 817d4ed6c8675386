"""DROPOUT (Srivastava et al. 2014; EDBT §5.1).

Each hidden unit of each sample is kept with probability p (the paper's p = 0.05 is a *keep*
probability, EDBT §8.4) and dropped otherwise; the input and output layers are never dropped.

    r_j ~ Bernoulli(p)                       independently per unit and per sample
    inverted scaling (default):  train a_j = r_j f(z_j) / p,   evaluate a_j = f(z_j)
    classic scaling:             train a_j = r_j f(z_j),       evaluate a_j = p f(z_j)
Both give the same expected activation at training and evaluation time.

What is approximated: nothing is estimated; the network is a random thinned sub-network each step.
What is saved: a dropped unit's row is never read (forward, backward, update; at batch N per sample,
strategies/active_batch.py), and the next layer reads only the columns of kept units. Keep = 1 is exactly
STANDARD. The EDBT code computed every unit and then masked (notes/reference-implementations.md §2).
"""
import numpy as np

from .active_set import ActiveSetStrategy, Selection


class Dropout(ActiveSetStrategy):
    name = "dropout"

    def __init__(self, cfg, params, ledger):
        super().__init__(cfg, params, ledger)
        self.p = cfg.dropout_keep
        self.scale = 1.0 / self.p if cfg.dropout_scaling == "inverted" else 1.0
        self.eval_scale = 1.0 if cfg.dropout_scaling == "inverted" else self.p

    def choose(self, l, x, xi, layer, rng):
        d_out = layer.W.shape[0]
        idx = np.flatnonzero(rng.random(d_out) < self.p)          # r_j ~ Bernoulli(p)
        self.ledger.add(l, "overhead", 0, d_out * 8, idx.shape[0] * 8)
        return Selection(idx, x.dtype.type(self.scale))

    def choose_mask(self, l, a, z, layer, rng):
        shape = (a.shape[0], layer.W.shape[0])
        keep = rng.random(shape) < self.p                          # r ~ Bernoulli(p), (N, D_out)
        size = shape[0] * shape[1]
        self.ledger.add(l, "overhead", 0, size * 8, size * a.itemsize)
        return keep.astype(a.dtype) * a.dtype.type(self.scale)

    def eval_forward(self, l, a, layer):
        out = super().eval_forward(l, a, layer)
        if not self.is_output(l) and self.eval_scale != 1.0:
            out *= self.eval_scale                                 # classic: E[r] = p
        return out
