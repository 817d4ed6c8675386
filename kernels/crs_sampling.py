"""Column-row sampling (CRS) for MC-APPROX: the probabilities and the random choice of pairs.

CRS estimates A @ B from a few of its n rank-one terms A[:, i] B[i, :] (EDBT Eq. 5; Adelman 2019
Eq. 1). This module decides *which* terms and with what factor, from the norm products of
`crs_norms`; `crs_product` multiplies them.

Shape legend
    A (m, n) @ B (n, p)   the product, sampled over its inner dimension n
    c     (n,)  float64   column-row norm products c_i = |A[:, i]| |B[i, :]|      (EDBT Eq. 6)
    prob  (n,)  float64   per-pair probabilities (meaning depends on the sampler, below)
    k                     requested pairs;  s = pairs actually kept
    idx   (s,)  int64     kept pair indices, sorted, unique;  scale (s,) per-pair factor or None

MC-APPROX's two products, with our storage W (D_out, D_in) (the paper writes W (D_in, D_out)):
    input gradient   dX = dY (N, D_out) @ W (D_out, D_in)      A = dY,    B = W, n = D_out
    weight gradient  dW = dY^T (D_out, N) @ X (N, D_in)       A = dY.T,  B = X, n = N (the batch)

Samplers (k < n; `scale` on gives an unbiased estimate, off gives the plain sum of kept terms):
    bernoulli       keep i independently with prob_i, scale 1/prob_i (Adelman 2021 Bernoulli-CRS).
                    nps: prob_i = min(k c_i / sum c, 1), EDBT Eq. 7 exactly as printed, so after
                    clipping E[s] = sum prob <= k. `exact_k` instead raises the unclipped
                    probabilities until sum prob = k (which minimises the expected error
                    sum (1 - prob_i)/prob_i c_i^2 under sum prob = k, prob <= 1); the default stays
                    the paper's formula. uniform: prob_i = k/n.
    with_replacement
                    k i.i.d. draws from prob (nps: c / sum c, Eq. 6; uniform: 1/n) by inverse CDF;
                    duplicates merged into one term with scale count / (k prob_i).
    without_replacement
                    k distinct pairs. uniform: a simple random sample, scale n/k. nps: priority
                    sampling (Duffield, Lund & Thorup 2007): keep the k largest keys prob_i / u_i,
                    u ~ U(0, 1]; with tau the (k+1)-th largest key, scale max(1, tau / prob_i) is
                    unbiased. (Successive sampling, numpy's choice(replace=False, p=...), has no
                    closed-form inclusion probabilities, so no unbiased scale: the reference code
                    asserts there.)
    topk            the k largest c_i, deterministic and never scaled (Adelman 2019 §3.1).
`mix_eps` is the reference code's mixing with uniform, prob <- (1 - eps) prob + eps/n, applied after
the clipping (so Bernoulli keeps E[s] = (1 - eps) sum prob + eps pairs on average, fewer than k).
It acts on nps probabilities only (top-k and the uniform distribution ignore it).

Edge cases, exact and cheaper than the reference code's handling (reference-implementations.md §5):
    k >= n             idx None: the exact product, nothing is sampled or even normed.
    every c_i = 0      idx empty: the product is exactly zero (each term has a zero factor).
    nnz(c) <= k        idx = the non-zero pairs, unscaled: their sum *is* the exact product.
    bernoulli, s = 0   the estimate is zero (the reference falls back to pairs 0..k-1: biased).
Uniform samplers never compute norms, so they skip the last three checks (their estimate stays
valid).
"""
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ._jit import jit, register_warmup
from .cost import Cost
from .crs_norms import norm_products

SAMPLERS = ("bernoulli", "with_replacement", "without_replacement", "topk")
DISTRIBUTIONS = ("nps", "uniform")  # nps = norm-proportional sampling (Adelman 2019 Eq. 3)
_F64 = 8  # bytes of a float64 / int64


@dataclass(frozen=True)
class CrsSpec:
    """How to sample: sampler, distribution, whether to scale, and the two options above."""
    sampler: str = "bernoulli"
    dist: str = "nps"
    scale: bool = True
    mix_eps: float = 0.0
    exact_k: bool = False

    def __post_init__(self):
        if self.sampler not in SAMPLERS:
            raise ValueError(f"unknown CRS sampler {self.sampler!r}; choose one of {SAMPLERS}")
        if self.dist not in DISTRIBUTIONS:
            raise ValueError(f"unknown CRS distribution {self.dist!r}; "
                             f"choose one of {DISTRIBUTIONS}")
        if self.sampler == "topk" and (self.dist != "nps" or self.scale):
            raise ValueError("top-k CRS is deterministic by norm and never scaled: use "
                             "CrsSpec('topk', 'nps', scale=False)")
        if not 0.0 <= self.mix_eps <= 1.0:
            raise ValueError(f"mix_eps must lie in [0, 1], got {self.mix_eps}")
        if self.exact_k and self.sampler != "bernoulli":
            raise ValueError("exact_k only applies to the bernoulli sampler")


class CrsSelection(NamedTuple):
    """The random choice of one sampled product, kept so it can be recorded and replayed (sel=)."""
    idx: np.ndarray | None    # (s,) int64 sorted unique kept pairs; None = all n kept (exact)
    scale: np.ndarray | None  # (s,) factor per kept pair, in the product's dtype; None = factor 1
    n: int                    # the inner dimension sampled over

    @property
    def kept(self):
        """Number of column-row pairs the product multiplies (n for the exact product)."""
        return self.n if self.idx is None else len(self.idx)


# ---------------------------------------------------------------------------------------------
# Probabilities

def bernoulli_alpha(c, k, exact_k=False, total=None):
    """alpha of prob_i = min(alpha c_i, 1). Eq. 7: alpha = k / sum c (sum prob <= k after clipping).

    exact_k raises alpha until sum prob = k, redistributing the clipped mass: each round fixes the
    pairs at 1 and spreads the remaining budget over the rest. The clipped set only grows, so this
    ends within k rounds (one or two on real gradients). Requires k < nnz(c).
    """
    alpha = k / (c.sum() if total is None else total)
    if not exact_k:
        return alpha
    for _ in range(k + 1):
        full = alpha * c >= 1.0
        alpha = (k - np.count_nonzero(full)) / c[~full].sum()
        if np.array_equal(alpha * c >= 1.0, full):
            break
    return alpha


def crs_probabilities(c, k, spec, n=None):
    """prob (n,) float64 for `spec` (module docstring). nps needs k < nnz(c); uniform only n."""
    n = len(c) if n is None else n
    if spec.dist == "uniform":
        return np.full(n, k / n if spec.sampler == "bernoulli" else 1.0 / n)
    if spec.sampler == "bernoulli":
        prob = np.minimum(bernoulli_alpha(c, k, spec.exact_k) * c, 1.0)      # EDBT Eq. 7
    else:
        prob = c / c.sum()                                                      # EDBT Eq. 6
    if spec.mix_eps:
        prob = (1.0 - spec.mix_eps) * prob + spec.mix_eps / n   # reference code, after clipping
    return prob


# ---------------------------------------------------------------------------------------------
# Bernoulli-CRS: plain-NumPy reference, then the kernel (one pass instead of ~8 NumPy calls on n)

def bernoulli_ref(c, alpha, eps, u, do_scale):
    """Keep i where u_i < prob_i = (1 - eps) min(alpha c_i, 1) + eps/n; scale 1/prob_i.

    With alpha = k / sum c this is EDBT Eq. 7 (plus the reference code's mixing when eps > 0).
    """
    prob = (1.0 - eps) * np.minimum(alpha * c, 1.0) + eps / len(c)
    idx = np.flatnonzero(u < prob)
    return idx, (1.0 / prob[idx] if do_scale else None)


@jit
def total_and_nnz(c):
    """(sum c, number of non-zero c_i) in one pass: what every nps sampler needs first."""
    total = 0.0
    nnz = 0
    for i in range(c.shape[0]):
        total += c[i]
        nnz += c[i] != 0.0
    return total, nnz


@jit
def bernoulli_kernel(c, alpha, eps, u, do_scale, idx_out, scale_out):
    """As `bernoulli_ref`, writing idx_out[:s], scale_out[:s]; returns s."""
    n = c.shape[0]
    s = 0
    for i in range(n):
        prob = (1.0 - eps) * min(alpha * c[i], 1.0) + eps / n
        if u[i] < prob:
            idx_out[s] = i
            if do_scale:
                scale_out[s] = 1.0 / prob
            s += 1
    return s


# ---------------------------------------------------------------------------------------------
# The other samplers (NumPy: a few calls on n-vectors)

def _with_replacement(prob, k, rng, scale, dtype, uniform):
    n = len(prob)
    if uniform:
        draws = rng.integers(0, n, size=k)
    else:  # inverse CDF: a pair with prob 0 has a flat CDF step and is never drawn
        cdf = np.cumsum(prob)
        draws = np.minimum(np.searchsorted(cdf, rng.random(k) * cdf[-1], side="right"), n - 1)
    counts = np.bincount(draws, minlength=n)           # merge duplicates: fewer, sorted terms
    idx = np.flatnonzero(counts)
    counts = counts[idx]
    return idx, (counts / (k * prob[idx]) if scale else counts).astype(dtype)


def _without_replacement(prob, k, rng, scale, dtype, uniform):
    n = len(prob)
    if uniform:  # k smallest of n uniforms = a simple random sample; inclusion probability k/n
        idx = np.sort(np.argpartition(rng.random(n), k - 1)[:k])
        return idx, (np.full(k, n / k, dtype) if scale else None)
    keys = prob / (1.0 - rng.random(n))                  # priority sampling, u in (0, 1]
    part = np.argpartition(keys, n - k - 1)              # part[n-k:] = k largest keys
    idx = np.sort(part[n - k:])
    tau = keys[part[n - k - 1]]                          # the (k+1)-th largest key
    return idx, (np.maximum(1.0, tau / prob[idx]).astype(dtype) if scale else None)


def _topk(c, k):
    n = len(c)
    return np.sort(np.argpartition(c, n - k)[n - k:])


def select(A, B, k, rng, spec=CrsSpec(), *, c=None, a_norms=None, b_norms=None):
    """Choose the pairs of A (m, n) @ B (n, p) to keep. Returns a `CrsSelection`.

    c: precomputed norm products (n,); a_norms/b_norms: precomputed norms of one side (e.g. W's rows
    kept by the caller).
    Given norms may be stale (say, W's from a few steps ago): the scaled estimators stay unbiased
    for any probabilities they are drawn with; only the variance moves. They must be zero only where
    the row or column really is zero, since a zero c_i is taken to mean a zero term.
    """
    n = A.shape[1]
    if B.shape[0] != n:
        raise ValueError(f"inner dimensions differ: A {A.shape}, B {B.shape}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if k >= n:
        return CrsSelection(None, None, n)
    dtype = A.dtype if A.dtype == B.dtype else np.result_type(A.dtype, B.dtype)
    uniform = spec.dist == "uniform"
    if not uniform:
        if c is None:
            c = norm_products(A, B, a_norms=a_norms, b_norms=b_norms)
        total, nnz = total_and_nnz(c)
        if nnz <= k:  # incl. all-zero c: the non-zero pairs give the exact product
            return CrsSelection(np.flatnonzero(c), None, n)
    if spec.sampler == "topk":
        return CrsSelection(_topk(c, k), None, n)
    if spec.sampler == "bernoulli" and not uniform:
        u = rng.random(n)
        idx = np.empty(n, np.int64)
        scale = np.empty(n if spec.scale else 0, dtype)
        s = bernoulli_kernel(c, bernoulli_alpha(c, k, spec.exact_k, total), spec.mix_eps, u,
                             spec.scale, idx, scale)
        return CrsSelection(idx[:s], scale[:s] if spec.scale else None, n)
    prob = crs_probabilities(c, k, spec, n)
    if spec.sampler == "bernoulli":       # uniform: prob = k/n everywhere
        idx = np.flatnonzero(rng.random(n) < prob)
        scale = np.full(len(idx), n / k, dtype) if spec.scale else None
    elif spec.sampler == "with_replacement":
        idx, scale = _with_replacement(prob, k, rng, spec.scale, dtype, uniform)
    else:
        idx, scale = _without_replacement(prob, k, rng, spec.scale, dtype, uniform)
    return CrsSelection(idx, scale, n)


# ---------------------------------------------------------------------------------------------
# Costs (from shapes alone, for the ledger)

def sampling_cost(n, k, s, itemsize, spec):
    """Probabilities and draw: ~one multiply per pair, the random numbers; idx and scale written."""
    if k >= n:
        return Cost(0, 0, 0)
    draws = {"bernoulli": n, "with_replacement": k, "without_replacement": n,
             "topk": 0}[spec.sampler]
    prob_macs = 0 if spec.dist == "uniform" else n
    written = s * _F64 + (s * itemsize if spec.scale or spec.sampler == "with_replacement" else 0)
    return Cost(prob_macs + draws, (n if prob_macs else 0) * _F64 + draws * _F64, written)


@register_warmup
def warmup():
    """Compile the Bernoulli kernel for float32 and float64 scales, scaled and not."""
    c = np.array([1.0, 2.0, 0.0])
    u = np.array([0.1, 0.9, 0.5])
    idx = np.empty(3, np.int64)
    total_and_nnz(c)
    for dt in (np.float32, np.float64):
        for do_scale in (True, False):
            bernoulli_kernel(c, 0.5, 0.1, u, do_scale, idx, np.empty(3 if do_scale else 0, dt))
