"""Fused optimiser updates over a subset of weight rows, from a factored or a materialised gradient.

Shape legend
    W, m, v, h, vel  (D_out, D_in)  weights and optimiser state, updated in place
    G   (N, R)     deltas of the R rows with a gradient;  A (N, D_in) layer inputs
    g   (R, D_in)  materialised gradient rows (g = G^T A, formed by BLAS when N is large)
    visit (V,)     rows to update, unique
    pos (D_out,)   pos[r] = index of row r in G's columns / g's rows, or -1 for "no gradient"
    step, corr (D_out,)  per-row Adam step size lr / (1 - b1^t) and 1 / sqrt(1 - b2^t)
    c1, c2         Adam's 1 - b1 and 1 - b2, computed in float64 by the caller and rounded once to
                   W's dtype (in float32, 1 - float32(0.999) is off by 1.3e-5 relative)

Why: a batch-1 step must not form the (D_out, D_in) outer product (performance-facts.md §5.2: as a
matmul it runs at 1.4 GFLOP/s), and NumPy's Adam takes ~10 passes over W, m, v with temporaries while
one fused pass reads W, m, v and writes them back once. Visiting rows through `visit`/`pos` serves
every case with one kernel:
    exact training           visit = all rows,   pos = identity
    row-sparse, dense state  visit = all rows,   pos = -1 outside the active rows (EDBT's dense Adam:
                             untouched rows still move through their momentum)
    row-sparse, lazy state   visit = the active rows only (the KDD'17 code)

Adam follows PyTorch's arithmetic: W -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).
"""
import numpy as np

from ._jit import jit, register_warmup
from .cost import Cost


# ------------------------------------------------------------------ plain-NumPy references

def _row_grad_ref(G, A, g, pos, r):
    p = pos[r]
    if g is not None:
        return g[p] if p >= 0 else np.zeros(A.shape[1] if A is not None else g.shape[1], g.dtype)
    return G[:, p] @ A if p >= 0 else np.zeros(A.shape[1], A.dtype)


def adam_ref(W, m, v, G, A, g, visit, pos, step, corr, b1, b2, c1, c2, eps):
    for r in visit:
        gr = _row_grad_ref(G, A, g, pos, r)
        m[r] = b1 * m[r] + c1 * gr            # c1 = 1 - b1
        v[r] = b2 * v[r] + c2 * gr * gr       # c2 = 1 - b2
        W[r] -= step[r] * m[r] / (np.sqrt(v[r]) * corr[r] + eps)


def sgd_ref(W, vel, G, A, g, visit, pos, lr, mu):
    for r in visit:
        gr = _row_grad_ref(G, A, g, pos, r)
        if mu > 0:
            vel[r] = mu * vel[r] + gr
            gr = vel[r]
        W[r] -= lr * gr


def sgd_backward_fused_ref(W, g, a, lr, dx):
    """Exact batch-1 step of one layer: dx = g @ W (old W, Eq. 1), then W -= lr * outer(g, a)."""
    dx[:] = g @ W
    W -= lr * np.outer(g, a)


def adam_backward_fused_reference(W, m, v, g, a, step, corr, b1, b2, c1, c2, eps, dx):
    """Exact batch-1 layer with dense Adam: dx = g @ W (old W, Eq. 1), then Adam on every row with
    the gradient outer(g, a) (adam_ref)."""
    dx[:] = g @ W
    grad = np.outer(g, a)
    m[:] = b1 * m + c1 * grad            # c1 = 1 - b1
    v[:] = b2 * v + c2 * grad * grad     # c2 = 1 - b2
    W -= step[:, None] * m / (np.sqrt(v) * corr[:, None] + eps)


def adagrad_ref(W, h, G, A, g, visit, pos, lr, eps):
    for r in visit:
        gr = _row_grad_ref(G, A, g, pos, r)
        h[r] += gr * gr
        W[r] -= lr * gr / (np.sqrt(h[r]) + eps)


# ------------------------------------------------------------------ kernels

@jit
def _row_grad(G, A, p, out):
    """out = G[:, p] @ A  (one row of G^T A; N is small, D_in contiguous)."""
    gn = G[0, p]
    a = A[0]
    for j in range(A.shape[1]):
        out[j] = gn * a[j]
    for n in range(1, G.shape[0]):
        gn = G[n, p]
        a = A[n]
        for j in range(A.shape[1]):
            out[j] += gn * a[j]


@jit
def adam_factored(W, m, v, G, A, visit, pos, step, corr, b1, b2, c1, c2, eps, scratch):
    for i in range(visit.shape[0]):
        r = visit[i]
        p = pos[r]
        if p >= 0:
            _row_grad(G, A, p, scratch)
        else:
            scratch[:] = 0
        _adam_row(W, m, v, r, scratch, step[r], corr[r], b1, b2, c1, c2, eps)


@jit
def adam_materialized(W, m, v, g, visit, pos, step, corr, b1, b2, c1, c2, eps, scratch):
    for i in range(visit.shape[0]):
        r = visit[i]
        p = pos[r]
        if p >= 0:
            _adam_row(W, m, v, r, g[p], step[r], corr[r], b1, b2, c1, c2, eps)
        else:
            scratch[:] = 0
            _adam_row(W, m, v, r, scratch, step[r], corr[r], b1, b2, c1, c2, eps)


@jit(reassoc=False)
def _adam_row(W, m, v, r, g, step, corr, b1, b2, c1, c2, eps):
    # c1 = 1 - b1 and c2 = 1 - b2 arrive precomputed (float64, then rounded once): computing them
    # here from float32 betas loses digits, and with reassociation allowed LLVM may rewrite
    # b2 v + (1 - b2) g g into a form that cancels. So this function is compiled without `reassoc`
    # and evaluates the moments as written (PyTorch's order); an FMA contraction only adds accuracy.
    # Rows are indexed in 2-D (W[r, j]) rather than through a row view: measured faster in Numba.
    for j in range(W.shape[1]):
        gj = g[j]
        mj = b1 * m[r, j] + c1 * gj
        vj = b2 * v[r, j] + c2 * gj * gj
        m[r, j] = mj
        v[r, j] = vj
        W[r, j] -= step * mj / (np.sqrt(vj) * corr + eps)


@jit
def sgd_factored(W, vel, G, A, visit, pos, lr, mu, scratch):
    for i in range(visit.shape[0]):
        r = visit[i]
        p = pos[r]
        if p >= 0 and mu == 0:
            # Plain SGD: W[r] -= lr * sum_n G[n, p] A[n]: N in-place axpys, no scratch pass.
            for n in range(G.shape[0]):
                c = -lr * G[n, p]
                a = A[n]
                for j in range(W.shape[1]):
                    W[r, j] += c * a[j]
            continue
        if p >= 0:
            _row_grad(G, A, p, scratch)
        else:
            scratch[:] = 0
        _sgd_row(W, vel, r, scratch, lr, mu)


@jit
def sgd_materialized(W, vel, g, visit, pos, lr, mu, scratch):
    for i in range(visit.shape[0]):
        r = visit[i]
        p = pos[r]
        if p >= 0:
            _sgd_row(W, vel, r, g[p], lr, mu)
        elif mu > 0:
            scratch[:] = 0
            _sgd_row(W, vel, r, scratch, lr, mu)


@jit
def _sgd_row(W, vel, r, g, lr, mu):
    if mu > 0:
        for j in range(W.shape[1]):
            vj = mu * vel[r, j] + g[j]
            vel[r, j] = vj
            W[r, j] -= lr * vj
    else:
        for j in range(W.shape[1]):
            W[r, j] -= lr * g[j]


@jit
def adagrad_factored(W, h, G, A, visit, pos, lr, eps, scratch):
    for i in range(visit.shape[0]):
        r = visit[i]
        p = pos[r]
        if p >= 0:  # a zero gradient leaves Adagrad's state and the weights unchanged
            _row_grad(G, A, p, scratch)
            _adagrad_row(W, h, r, scratch, lr, eps)


@jit
def adagrad_materialized(W, h, g, visit, pos, lr, eps):
    for i in range(visit.shape[0]):
        r = visit[i]
        p = pos[r]
        if p >= 0:
            _adagrad_row(W, h, r, g[p], lr, eps)


@jit
def _adagrad_row(W, h, r, g, lr, eps):
    for j in range(W.shape[1]):
        gj = g[j]
        hj = h[r, j] + gj * gj
        h[r, j] = hj
        W[r, j] -= lr * gj / (np.sqrt(hj) + eps)


@jit
def sgd_backward_fused(W, g, a, lr, dx):
    """One pass over W for an exact batch-1 SGD step: each row is read once, contributes to the
    input gradient with its old values, and is updated in place. Separately, the input gradient
    (a GEMV) and the update (a rank-1 update) each stream W once: fusing halves W's traffic."""
    dx[:] = 0
    for r in range(W.shape[0]):
        gr = g[r]
        c = -lr * gr
        for j in range(W.shape[1]):
            w = W[r, j]
            dx[j] += gr * w
            W[r, j] = w + c * a[j]


@jit(reassoc=False)   # Adam's moments as written, like _adam_row
def adam_backward_fused(W, m, v, g, a, step, corr, b1, b2, c1, c2, eps, dx):
    """One pass over W, m, v for an exact batch-1 Adam layer: each row contributes to the input
    gradient with its old values and is then updated, as sgd_backward_fused does for SGD. Apart it
    is a GEMV over W and then Adam's pass (read W, m, v, write them: 6 streams); fused, the GEMV's
    read of W is gone, so a step streams 11.2 MB 7 times (with the forward pass) instead of 8. The
    update's arithmetic is _adam_row's, element for element; dx is summed row by row (its rounding
    differs from the 4-row kernel's)."""
    dx[:] = 0
    for r in range(W.shape[0]):
        gr = g[r]
        st, co = step[r], corr[r]
        for j in range(W.shape[1]):
            w = W[r, j]
            dx[j] += gr * w                              # Eq. 1: W delta, with the old W
            gj = gr * a[j]                               # Eq. 1: ∇W = a^{k-1} delta^k
            mj = b1 * m[r, j] + c1 * gj
            vj = b2 * v[r, j] + c2 * gj * gj
            m[r, j] = mj
            v[r, j] = vj
            W[r, j] = w - st * mj / (np.sqrt(vj) * co + eps)


# ------------------------------------------------------------------ costs

def update_cost(n_visit, n_grad_rows, d_in, n_batch, itemsize, n_state, factored):
    """One fused pass: read W and each state array, write them back; form the gradient rows either
    from the factors (n_batch MACs per element, reading G and A) or by reading the materialised g."""
    elems = n_visit * d_in
    grad_read = (n_batch * (n_grad_rows + d_in) if factored else n_grad_rows * d_in) * itemsize
    macs = n_grad_rows * d_in * n_batch if factored else 0
    return Cost(macs, elems * (1 + n_state) * itemsize + grad_read, elems * (1 + n_state) * itemsize)


def sgd_backward_fused_cost(d_out, d_in, itemsize):
    """2 MACs per weight (gradient and update); W read and written once, g, a read, dx written."""
    return Cost(2 * d_out * d_in, (d_out * d_in + d_out + d_in) * itemsize,
                (d_out * d_in + d_in) * itemsize)


@register_warmup
def warmup():
    for dt in (np.float32, np.float64):
        W = np.zeros((3, 4), dt)
        s1, s2 = np.zeros_like(W), np.zeros_like(W)
        G, A = np.ones((2, 3), dt), np.ones((2, 4), dt)
        g = np.ones((3, 4), dt)
        visit = np.arange(3, dtype=np.int64)
        pos = np.arange(3, dtype=np.int64)
        step, corr = np.ones(3, dt), np.ones(3, dt)
        scratch = np.zeros(4, dt)
        one = dt(1)
        adam_factored(W, s1, s2, G, A, visit, pos, step, corr, one, one, one, one, one, scratch)
        adam_materialized(W, s1, s2, g, visit, pos, step, corr, one, one, one, one, one, scratch)
        sgd_factored(W, s1, G, A, visit, pos, one, one, scratch)
        sgd_materialized(W, s1, g, visit, pos, one, one, scratch)
        adagrad_factored(W, s1, G, A, visit, pos, one, one, scratch)
        adagrad_materialized(W, s1, g, visit, pos, one, one)
        sgd_backward_fused(W, np.ones(3, dt), np.ones(4, dt), one, np.empty(4, dt))
