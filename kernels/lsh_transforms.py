"""P/Q transforms that reduce maximum inner product search (MIPS) to a similarity search (EDBT §5.2).

ALSH-APPROX looks for the units j whose pre-activation <w_j, a> is largest. Sign hashes estimate the
*angle* between two vectors, not the inner product, so the weight rows and the query are first mapped
by two different functions, P (rows) and Q (query), such that the angle (or distance) between Q(a)
and P(w) orders the rows by <w, a>:

    l2_alsh     P(w) = [w; |w|^2; |w|^4; ...; |w|^(2^m)]      Q(a) = [a/|a|; 1/2; ...; 1/2]
                (Shrivastava & Li 2014; EDBT Eq. 2-3; U = 0.83, m = 3). Derived for L2 hashing; the
                EDBT code feeds it to sign hashes anyway (reference-implementations.md §4a, §8.3).
    sign_alsh   P(w) = [w; 1/2 - |w|^2; ...; 1/2 - |w|^(2^m)]  Q(a) = [a/|a|; 0; ...; 0]
                (Shrivastava & Li, UAI 2015; U = 0.75, m = 2). Correct for sign hashes.
    simple_lsh  P(w) = [w; sqrt(1 - |w|^2)]                    Q(a) = [a/|a|; 0]
                (Neyshabur & Srebro 2015; U = 1). Correct for sign hashes.
    none        P(w) = w, Q(a) = a/|a|  (plain cosine LSH, as the KDD'17 code does).

Before P, *all* rows are multiplied by one global factor so that the largest row norm is U (the
transforms need |w| < 1). One common factor keeps the order of <w, a>. The EDBT code only shrinks
(rescales when the max norm exceeds U): `shrink_only=True` reproduces that.

The query is divided by its norm; sign hashes are scale invariant except through the constant 1/2
coordinates of l2_alsh. An all-zero query (ReLU can produce one) has no direction: it is reported as
*invalid* and the caller falls back (e.g. random fill), never divided by zero.

Shape legend: n = rows hashed (a layer's D_out units), d = D_in, e = extra coordinates
(`n_extra`: m, m, 1 or 0), dim = d + e. W (n, d): row j holds unit j's incoming weights, i.e. the
paper's column W[:, j] (the paper writes z = a W with W (D_in, D_out)).

The fast path never materialises P(W) (n, dim): it returns the global `scale` and the extra
coordinates `ext` (n, e); hashing then uses P(W) = [scale * W, ext].
"""
from typing import NamedTuple

import numpy as np

from ._jit import jit, register_warmup
from .cost import Cost

NONE, L2_ALSH, SIGN_ALSH, SIMPLE_LSH = 0, 1, 2, 3
TRANSFORMS = {"none": NONE, "l2_alsh": L2_ALSH, "sign_alsh": SIGN_ALSH, "simple_lsh": SIMPLE_LSH}
_DEFAULTS = {NONE: (0, 1.0), L2_ALSH: (3, 0.83), SIGN_ALSH: (2, 0.75), SIMPLE_LSH: (1, 1.0)}


class Transform(NamedTuple):
    kind: int            # one of TRANSFORMS' values
    m: int               # number of appended coordinates (n_extra)
    U: float             # largest row norm after the global rescale
    shrink_only: bool    # EDBT code: rescale only when the largest norm exceeds U


def make_transform(name, m=None, U=None, shrink_only=False):
    """Transform by name with the papers' defaults (l2_alsh m=3 U=0.83; sign_alsh m=2 U=0.75)."""
    if name not in TRANSFORMS:
        raise ValueError(f"unknown LSH transform {name!r}; choose one of {', '.join(TRANSFORMS)}")
    kind = TRANSFORMS[name]
    m_default, U_default = _DEFAULTS[kind]
    m = m_default if m is None or kind in (NONE, SIMPLE_LSH) else int(m)
    U = U_default if U is None else float(U)
    if kind in (L2_ALSH, SIGN_ALSH) and not 1 <= m <= 8:
        raise ValueError(f"LSH transform m must be in 1..8, got {m}")
    if not 0.0 < U <= 1.0:
        raise ValueError(f"LSH transform U (largest row norm after rescaling) must be in (0, 1], got {U}")
    return Transform(kind, m, U, bool(shrink_only))


def query_constant(t):
    """Value of Q's appended coordinates: 1/2 for l2_alsh, 0 otherwise."""
    return 0.5 if t.kind == L2_ALSH else 0.0


# ---------------------------------------------------------------------------------------------
# NumPy references (obviously correct; the tests compare the kernels against these)
# ---------------------------------------------------------------------------------------------

def _global_scale_reference(max_norm, t):
    if t.kind == NONE or max_norm == 0.0 or (t.shrink_only and max_norm <= t.U):
        return 1.0
    return t.U / max_norm


def rows_extension_reference(W, t, ext_out):
    """Write P's appended coordinates of every row of W into ext_out (n, e); return the global scale."""
    norms = np.linalg.norm(W.astype(np.float64), axis=1)                  # (n,)
    max_norm = norms.max() if len(norms) else 0.0
    scale = _global_scale_reference(max_norm, t)
    # |scale * w_j|, written so that the largest row lands exactly on U (sqrt(1 - U^2) is then 0)
    r = norms / max_norm * t.U if scale != 1.0 else norms
    for e in range(ext_out.shape[1]):
        power = r ** (2 ** (e + 1))                                       # |w|^(2^(e+1)), Eq. 2
        if t.kind == L2_ALSH:
            ext_out[:, e] = power
        elif t.kind == SIGN_ALSH:
            ext_out[:, e] = 0.5 - power
        else:                                                             # SIMPLE_LSH, e == 0
            ext_out[:, e] = np.sqrt(np.maximum(1.0 - r ** 2, 0.0))
    return scale


def transform_rows_reference(W, t):
    """P(scale * W) as a dense (n, dim) array, and the scale."""
    ext = np.zeros((W.shape[0], t.m), dtype=W.dtype)
    scale = rows_extension_reference(W, t, ext)
    return np.hstack([W * W.dtype.type(scale), ext]), scale


def dense_query_reference(vals, idx, d):
    """The dense query q (d,) of a sparse one: q[idx] = vals, zeros elsewhere."""
    q = np.zeros(d, dtype=vals.dtype)
    q[idx] = vals
    return q


def transform_query_reference(q, t):
    """(Q(q) (dim,), valid); an all-zero q gives (zeros, False)."""
    norm = np.linalg.norm(q.astype(np.float64))
    Q = np.zeros(len(q) + t.m, dtype=q.dtype)
    if norm == 0.0:
        return Q, False
    Q[:len(q)] = q / norm
    Q[len(q):] = query_constant(t)
    return Q, True


# ---------------------------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------------------------

@jit
def _rows_extension(W, kind, U, shrink_only, ext_out):
    n, d = W.shape
    e_count = ext_out.shape[1]
    if kind == NONE or n == 0:
        return 1.0
    # squared norms, parked in ext_out[:, 0] so W is read once (n*d MACs)
    max_sq = 0.0
    for j in range(n):
        s = W.dtype.type(0)
        for i in range(d):
            s += W[j, i] * W[j, i]
        ext_out[j, 0] = s
        max_sq = max(max_sq, float(s))
    max_norm = np.sqrt(max_sq)
    rescale = max_norm > 0.0 and not (shrink_only and max_norm <= U)
    scale = U / max_norm if rescale else 1.0
    for j in range(n):
        sq = float(ext_out[j, 0])
        r2 = sq / max_sq * U * U if rescale else sq                     # |scale * w_j|^2
        if kind == SIMPLE_LSH:
            # sqrt(1 - |w|^2); 1 - r2 is formed without cancellation so the largest row gets 0
            # exactly when U = 1 (fastmath may turn sq / max_sq into sq * (1 / max_sq) != 1)
            gap = (max_sq - U * U * sq) / max_sq if rescale else 1.0 - sq
            ext_out[j, 0] = np.sqrt(max(gap, 0.0))
            continue
        power = r2
        for e in range(e_count):                                        # |w|^2, |w|^4, ..., Eq. 2
            ext_out[j, e] = power if kind == L2_ALSH else 0.5 - power
            power = power * power
    return scale


def rows_extension(W, t, ext_out):
    """Kernel of `rows_extension_reference`: fills ext_out (n, e) and returns the global scale."""
    if ext_out.shape != (W.shape[0], t.m):
        raise ValueError(f"ext_out must have shape {(W.shape[0], t.m)}, got {ext_out.shape}")
    return _rows_extension(W, t.kind, t.U, t.shrink_only, ext_out)


def rows_extension_cost(n, d, n_extra, itemsize):
    """Squared norms of n rows (n*d MACs) and the n*e appended coordinates."""
    if n_extra == 0:
        return Cost(0, 0, 0)
    return Cost(n * d, n * d * itemsize, n * n_extra * itemsize)


@register_warmup
def warmup_lsh_transforms():
    for dtype in (np.float32, np.float64):
        W = np.ones((3, 4), dtype=dtype)
        for name in TRANSFORMS:
            t = make_transform(name)
            rows_extension(W, t, np.zeros((3, t.m), dtype=dtype))
