"""ADAPTIVE-DROPOUT, also called standout (Ba & Frey 2013; EDBT §5.1).

Each hidden unit j is kept with a probability computed from the same weights ("tied" standout
network pi = alpha W + beta, Ba & Frey §3):

    keep_j = sigmoid(alpha * z_j + beta),   z_j = w_j . a + b_j            (beta_mode 'scalar')
    keep_j = sigmoid(alpha * z_j + beta * sum_i a_i)                        (beta_mode 'per_weight':
             the gngdb code adds beta to every weight of the standout network)
    m_j ~ Bernoulli(keep_j);  train a_j = m_j f(z_j) (no rescaling);  evaluate a_j = keep_j f(z_j)
No gradient flows through the mask or the keep probabilities (as in every reference code).

The EDBT paper sets "p = 0.05" for ADAPTIVE-DROPOUT, but p has no direct meaning here: alpha and beta
are the hyper-parameters. With --standout-target-keep t > 0 (default 0.05), beta is calibrated for
every sample so that the mean keep probability over the layer's units is t (a few Newton steps from
the previous value); that is npmlp's reading of the paper's p, found in no reference code. The
calibration and the sigmoid are one compiled call per layer (kernels/standout.py:standout_keep, the
batch's rows at once; its NumPy reference calibrate_beta_reference rounds the same, operation by
operation), the call the fused batch-1 chunk (kernels/fused_adaptive.py) makes too.

What is saved: the keep probabilities need every unit's pre-activation, so the forward product is
*not* reduced (D_out x J per layer); the kept units alone enter the backward pass and the update.
The EDBT code used ReLU(0.5 z + 1) as the keep probability, which is >= 1 for every unit with z >= 0
(so almost nothing is dropped): notes/reference-implementations.md §3.
"""
import numpy as np

from kernels import standout as KSO

from ..layers import dense_forward
from .active_set import ActiveSetStrategy, Selection


class AdaptiveDropout(ActiveSetStrategy):
    name = "adaptive-dropout"
    needs_dense_z = True   # keep_j needs every z_j: the batch-N forward stays dense

    def __init__(self, cfg, params, ledger):
        super().__init__(cfg, params, ledger)
        self.alpha = cfg.standout_alpha
        self.target = cfg.standout_target_keep
        self.per_weight = cfg.standout_beta_mode == "per_weight"
        self.beta = np.full(len(params), cfg.standout_beta)  # per layer; the last calibrated value

    def keep_probability(self, l, a, z):
        """a (N, D_in), z (N, D_out) -> keep (N, D_out)."""
        c = a.sum(axis=1, dtype=np.float64) if self.per_weight else np.ones(a.shape[0])
        u = self.alpha * z.astype(np.float64)
        n, d = u.shape
        beta, keep = np.empty(n), np.empty((n, d))
        # keep = sigmoid(u + beta c), beta calibrated per row to the target (or fixed: target 0)
        KSO.standout_keep(u, c, self.target, self.beta[l], beta, keep, np.empty(n), np.empty(d))
        if self.target > 0:
            self.beta[l] = beta[-1]
        return keep

    def choose(self, l, x, xi, layer, rng):
        d_out = layer.W.shape[0]
        z = np.empty(d_out, x.dtype)
        self._rows_forward(l, x, xi, layer, self._all_units[l], z)   # every unit's z is needed
        keep = self.keep_probability(l, x[None, :], z[None, :])[0]
        self.ledger.add(l, "overhead", 0, d_out * 8, d_out * 8)
        idx = np.flatnonzero(rng.random(d_out) < keep)               # m_j ~ Bernoulli(keep_j)
        return Selection(idx, x.dtype.type(1.0), z[idx])

    def choose_mask(self, l, a, z, layer, rng):
        keep = self.keep_probability(l, a, z)
        self.ledger.add(l, "overhead", 0, z.size * 8, z.size * 8)
        return (rng.random(z.shape) < keep).astype(z.dtype)

    def eval_forward(self, l, a, layer):
        if self.is_output(l):
            return super().eval_forward(l, a, layer)
        z = dense_forward(a, layer.W, layer.b)[0]                   # (N, D_out)
        keep = self.keep_probability(l, a, z)
        return (self.act_forward(z)[0] * keep).astype(z.dtype)    # E[m_j] f(z_j)

    def state_arrays(self):
        return {"beta": self.beta}

    def load_state_arrays(self, arrays, params):
        if "beta" in arrays:
            self.beta[:] = arrays["beta"]
