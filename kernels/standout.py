"""ADAPTIVE-DROPOUT's keep probabilities (standout, Ba & Frey 2013; EDBT §5.1), compiled.

Per row n (one sample) over a layer's D units, with u = alpha z (float64) and c = 1 (beta_mode
'scalar') or c = sum(a) (beta_mode 'per_weight'):

    keep_nj = sigmoid(u_nj + beta_n c_n)                          (Ba & Frey §3, the tied network)
    beta_n: mean_j keep_nj = target, by safeguarded Newton steps from the warm start beta0
            f = mean_j s_nj - target,  f' = c_n mean_j s_nj (1 - s_nj),  beta -= clip(f / f', -5, 5)
    stopping once every row's |f| <= TOL * target (the rows iterate together), at most ITERS steps;
    target = 0: beta_n = beta0, no calibration.

The compiled kernel is what npmlp/strategies/adaptive_dropout.py calls at every batch size (one call
for the batch) and what the fused batch-1 chunk (kernels/fused_adaptive.py) calls per layer, so the
two paths compute the same keep probabilities bit for bit. It is compiled without fastmath
(`jit(strict=True)`): no FMA contraction, no reciprocal for a division, the means summed in NumPy's
pairwise order and the exponential from libm as SciPy's expit calls it; it then rounds exactly as
the NumPy reference below does operation by operation (measured bit-identical on this machine:
tests/test_standout.py checks it to rounding, the fast path's equality tests bit for bit).

Shape legend: u (N, D) float64; c, beta, f (N,) float64; keep (N, D) float64; work (D,) float64.
"""
import numpy as np
from scipy.special import expit

from ._jit import jit, register_warmup
from .fused_loss import numpy_sum

ITERS = 8        # Newton steps at most
TOL = 1e-3       # stop once |mean keep - target| <= TOL * target in every row

# ------------------------------------------------------------------ plain-NumPy reference


def calibrate_beta_reference(u, c, target, beta0, iters=ITERS, tol=TOL):
    """Per row n, the beta with mean_j sigmoid(u[n, j] + beta c[n]) = target (Newton, safeguarded).

    u (N, D) = alpha z; c (N,) = 1 or sum(a); beta0 scalar warm start. Returns beta (N,). Stops once
    every row's mean keep is within tol * target of the target: from the previous step's beta that
    is one or two iterations.
    """
    beta = np.full(u.shape[0], beta0, dtype=np.float64)
    for _ in range(iters):
        s = expit(u + (beta * c)[:, None])
        f = s.mean(axis=1) - target
        if np.abs(f).max() <= tol * target:
            break
        d = (s * (1 - s)).mean(axis=1) * c
        beta -= np.clip(f / np.maximum(d, 1e-12), -5.0, 5.0)
    return beta


def standout_keep_reference(u, c, target, beta0):
    """(beta (N,), keep (N, D)): keep = sigmoid(u + beta c), beta calibrated when target > 0."""
    beta = (calibrate_beta_reference(u, c, target, beta0) if target > 0
            else np.full(u.shape[0], beta0, dtype=np.float64))
    return beta, expit(u + (beta * c)[:, None])


# ------------------------------------------------------------------ kernels

@jit(strict=True)
def pairwise_sum(a):
    """a.sum() for a contiguous float64 row as NumPy reduces it: blocks of up to 128 (numpy_sum),
    split in halves rounded down to a multiple of 8 above that. Same order, same rounding."""
    n = a.shape[0]
    if n <= 128:
        return numpy_sum(a)
    n2 = n // 2
    n2 -= n2 % 8
    return pairwise_sum(a[:n2]) + pairwise_sum(a[n2:])


@jit(strict=True)
def _sigmoid_rows(u, c, beta, keep):
    """keep[n, j] = expit(u[n, j] + beta[n] c[n]) = 1 / (1 + exp(-x)), as SciPy computes it."""
    N, D = u.shape
    for n in range(N):
        bc = beta[n] * c[n]
        for j in range(D):
            keep[n, j] = 1.0 / (1.0 + np.exp(-(u[n, j] + bc)))


@jit(strict=True)
def standout_keep(u, c, target, beta0, beta, keep, f, work):
    """keep (N, D) = sigmoid(u + beta c) with beta (N,) calibrated as calibrate_beta_reference does
    (target > 0), or beta = beta0 (target = 0). f (N,) and work (D,) are scratch."""
    N, D = u.shape
    for n in range(N):
        beta[n] = beta0
    if target > 0:
        for _ in range(ITERS):
            _sigmoid_rows(u, c, beta, keep)                        # s = expit(u + beta c)
            done = True
            for n in range(N):
                f[n] = pairwise_sum(keep[n]) / D - target          # f = mean_j s - target
                if not (abs(f[n]) <= TOL * target):                # NaN: not converged
                    done = False
            if done:
                return                                             # keep holds s for this beta
            for n in range(N):
                for j in range(D):
                    s = keep[n, j]
                    work[j] = s * (1.0 - s)
                d = (pairwise_sum(work[:D]) / D) * c[n]            # f' = c mean_j s (1 - s)
                step = f[n] / (d if (d >= 1e-12 or np.isnan(d)) else 1e-12)   # np.maximum
                if step < -5.0:                                    # np.clip(., -5, 5)
                    step = -5.0
                elif step > 5.0:
                    step = 5.0
                beta[n] -= step
    _sigmoid_rows(u, c, beta, keep)


@register_warmup
def warmup():
    """Compile the calibration on a 2 x 130 block (the pairwise split included), both modes."""
    u = np.linspace(-3.0, 3.0, 260).reshape(2, 130)
    for target in (0.05, 0.0):
        standout_keep(u, np.ones(2), target, 0.0, np.empty(2), np.empty((2, 130)), np.empty(2),
                      np.empty(130))
