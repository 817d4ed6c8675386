"""Optimiser updates of one block of an input-major weight matrix (TOPK's lazy updates).

TOPK trains, per step, only the block rows J (non-zero inputs) x columns S (kept units) of
WT (D_in, D_out). Its gradient is given in factored form, g[r, c] = sum_n A[n, r] G[n, c] (Eq. 1,
∇W = a^{k-1} delta^k restricted to the block), and formed element by element inside the update, so
no (J, K) gradient is ever materialised. Every other element of W and of the optimiser state is left
untouched (lazy state). Adam's bias correction uses the step count of the element's *unit*
(t_u, indexed by the column id): a per-unit count over columns, the block analogue
of the KDD'17 code's per-row count (a per-row count does not fit a block that covers a few columns
of many rows). The bias is the same update on a (1, D_out) matrix with A = 1.

    SGD      W -= lr g                      (momentum mu > 0: vel = mu vel + g; W -= lr vel)
    Adam     t_u += 1 for each kept unit u (in the kernel), then
             m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  W -= step_u m / (sqrt(v) corr_u + eps)
             with step_u = lr / (1 - b1^t_u), corr_u = 1 / sqrt(1 - b2^t_u)   (as kernels/update.py)
    Adagrad  h += g^2;  W -= lr g / (sqrt(h) + eps)

Shape legend: W, state (R_all, C_all) (WT: D_in x D_out); b, bias state (C_all,); A (N, R) the block
rows' inputs; G (N, C) the block columns' deltas; rows (R,), cols (C,) int64 ids into W (distinct);
t_units (C_all,) int64 per-unit Adam step counts.
"""
import numpy as np

from ._jit import jit, register_warmup
from .cost import Cost

# ------------------------------------------------------------------ plain-NumPy references
# One call updates a layer's block of W and its bias entries; `b` and its state are 1-D (D_out,).


def _block_grads_ref(A, G):
    return A.T @ G, G.sum(axis=0)                 # (R, N) @ (N, C): Eq. 1 on the block; ∇b_S


def sgd_block_reference(W, vel, b, vel_b, A, G, rows, cols, lr, mu):
    g, gb = _block_grads_ref(A, G)
    for M, V, grad, ix in ((W, vel, g, np.ix_(rows, cols)), (b, vel_b, gb, cols)):
        if mu > 0:
            V[ix] = mu * V[ix] + grad
            grad = V[ix]
        M[ix] -= lr * grad


def adam_block_reference(W, m, v, b, m_b, v_b, A, G, rows, cols, t_units, lr, b1, b2, eps):
    t_units[cols] += 1
    t = t_units[cols].astype(np.float64)
    step = (lr / (1 - b1 ** t)).astype(W.dtype)             # per unit (column)
    corr = (1 / np.sqrt(1 - b2 ** t)).astype(W.dtype)
    g, gb = _block_grads_ref(A, G)
    for M, m_, v_, grad, ix in ((W, m, v, g, np.ix_(rows, cols)), (b, m_b, v_b, gb, cols)):
        m_[ix] = b1 * m_[ix] + (1 - b1) * grad
        v_[ix] = b2 * v_[ix] + (1 - b2) * grad * grad
        M[ix] -= step * m_[ix] / (np.sqrt(v_[ix]) * corr + eps)


def adagrad_block_reference(W, h, b, h_b, A, G, rows, cols, lr, eps):
    g, gb = _block_grads_ref(A, G)
    for M, H, grad, ix in ((W, h, g, np.ix_(rows, cols)), (b, h_b, gb, cols)):
        H[ix] += grad * grad
        M[ix] -= lr * grad / (np.sqrt(H[ix]) + eps)


# ------------------------------------------------------------------ kernels
# Per-element work is written inline: a jitted helper called per element is not inlined by Numba
# and cost 8x here (80 vs 9 us for a 50 x 50 SGD block, measured). Helpers run once per row.

@jit
def _row_grad(A, G, r, out):
    """out[c] = sum_n A[n, r] G[n, c]: one block row of the factored gradient (Eq. 1)."""
    a = A[0, r]
    for c in range(out.shape[0]):
        out[c] = a * G[0, c]
    for n in range(1, A.shape[0]):
        a = A[n, r]
        for c in range(out.shape[0]):
            out[c] += a * G[n, c]


@jit
def _next_row(A, G, rows, r, g):
    """Fill g with block row r's gradient and return its row id in W; r = -1 is the bias row
    (∇b_S = sum_n G[n], returned as row 0 of the caller's (1, D_out) view of b)."""
    if r < 0:
        _row_grad(np.ones((G.shape[0], 1), G.dtype), G, 0, g)
        return 0
    _row_grad(A, G, r, g)
    return rows[r]


@jit
def sgd_block(W, vel, b, vel_b, A, G, rows, cols, lr, mu):
    C = cols.shape[0]
    g = np.empty(C, W.dtype)
    for r in range(-1, rows.shape[0]):            # r = -1: the bias entries
        i = _next_row(A, G, rows, r, g)
        M = b.reshape(1, -1) if r < 0 else W
        V = vel_b.reshape(1, -1) if r < 0 else vel
        for c in range(C):
            u = cols[c]
            gj = g[c]
            if mu > 0:
                gj = mu * V[i, u] + gj
                V[i, u] = gj
            M[i, u] -= lr * gj


@jit
def adam_block(W, m, v, b, m_b, v_b, A, G, rows, cols, t_units, lr, b1, b2, eps):
    """Increments the kept units' step counts, then updates the bias entries and the block.
    lr, b1, b2, eps are float64 (the bias corrections are computed in float64, as optim.Adam does)."""
    dt = W.dtype.type
    b1w, b2w, epsw = dt(b1), dt(b2), dt(eps)
    c1, c2 = dt(1.0 - b1), dt(1.0 - b2)   # 1 - beta in float64, then rounded (as optim.Adam)
    C = cols.shape[0]
    step = np.empty(C, W.dtype)
    corr = np.empty(C, W.dtype)
    for c in range(C):
        u = cols[c]
        t_units[u] += 1
        t = np.float64(t_units[u])
        step[c] = lr / (1.0 - b1 ** t)
        corr[c] = 1.0 / np.sqrt(1.0 - b2 ** t)
    g = np.empty(C, W.dtype)
    for r in range(-1, rows.shape[0]):            # r = -1: the bias entries
        i = _next_row(A, G, rows, r, g)
        M = b.reshape(1, -1) if r < 0 else W
        Mm = m_b.reshape(1, -1) if r < 0 else m
        Mv = v_b.reshape(1, -1) if r < 0 else v
        for c in range(C):
            u = cols[c]
            gj = g[c]
            mj = b1w * Mm[i, u] + c1 * gj
            vj = b2w * Mv[i, u] + c2 * gj * gj
            Mm[i, u] = mj
            Mv[i, u] = vj
            M[i, u] -= step[c] * mj / (np.sqrt(vj) * corr[c] + epsw)


@jit
def adagrad_block(W, h, b, h_b, A, G, rows, cols, lr, eps):
    C = cols.shape[0]
    g = np.empty(C, W.dtype)
    for r in range(-1, rows.shape[0]):            # r = -1: the bias entries
        i = _next_row(A, G, rows, r, g)
        M = b.reshape(1, -1) if r < 0 else W
        H = h_b.reshape(1, -1) if r < 0 else h
        for c in range(C):
            u = cols[c]
            gj = g[c]
            hj = H[i, u] + gj * gj
            H[i, u] = hj
            M[i, u] -= lr * gj / (np.sqrt(hj) + eps)


def block_update_cost(n_rows, n_cols, n_batch, itemsize, n_state):
    """N MACs per block element for its gradient; W and each state array read and written there."""
    elems = n_rows * n_cols
    rw = elems * (1 + n_state) * itemsize
    return Cost(elems * n_batch, rw + n_batch * (n_rows + n_cols) * itemsize, rw)


@register_warmup
def warmup():
    for dt in (np.float32, np.float64):
        W = np.zeros((4, 3), dt)
        s1, s2 = np.zeros_like(W), np.zeros_like(W)
        b, sb1, sb2 = np.zeros(3, dt), np.zeros(3, dt), np.zeros(3, dt)
        A, G = np.ones((2, 2), dt), np.ones((2, 2), dt)
        rows = np.arange(2, dtype=np.int64)
        t_units = np.zeros(3, np.int64)
        one = dt(1)
        sgd_block(W, s1, b, sb1, A, G, rows, rows, one, dt(0))
        adam_block(W, s1, s2, b, sb1, sb2, A, G, rows, rows, t_units, 1.0, 0.5, 0.5, 1.0)
        adagrad_block(W, s1, b, sb1, A, G, rows, rows, one, one)
