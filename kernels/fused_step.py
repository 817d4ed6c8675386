"""A whole batch-1 training step in one compiled call, and a chunk of such steps per call.

The readable engine (npmlp/engine.py) makes ~20 kernel and NumPy calls per batch-1 step, with Python
in between: ~150 us of fixed cost against ~20 us of kernel time for DROPOUT at 5% (issue 11). Here one
call runs `n` consecutive steps over given sample indices: selection, forward through every layer on
the active units, log-softmax/NLL, backward and the optimiser's update of the touched rows, with
caller-allocated scratch (nothing is allocated per step).

The arithmetic is not re-implemented: every product and every update calls the same jitted kernels
the reference path calls (active_forward, active_backward, update), with arrays of the same types, so
it is the same machine code on the same numbers. What the reference does in NumPy (ReLU, the scatter
of kept units, log-softmax, the Adam step sizes) is written here to do the same IEEE operations in the
same order, e.g. NumPy's pairwise summation over the classes. What still differs, and why:
  - float32 exp/log: NumPy's SIMD exp/log (AVX-512) and libm's differ in the last bit, so float32
    losses and logit gradients agree to rounding only (float64 ones are bit-identical, tested);
  - STANDARD's dense products: the reference calls BLAS (W @ x); here the 4-row dot kernel runs.

Methods (`method`, the selection stage `_select`): 0 STANDARD (every unit), 1 DROPOUT (unit j of hidden
layer l kept when its pre-drawn uniform u < p; the reference draws `rng.random(D_out)` per hidden
layer per step, so a chunk draws `rng.random(n * sum(D_hidden))` at once: the same numbers for PCG64,
tested), 2 ALSH-APPROX (query hashing, table lookup and selection, by the jitted LSH kernels,
drawing from the strategy's uniform pool; the tables are rebuilt in Python between chunks).
Optimisers (`opt`): 0 SGD (momentum in state 1 when mu > 0), 1 Adam (state 1 = m, 2 = v; lazy per-row
step counts when `sparse_state`), 2 Adagrad (state 1 = h). Every optimiser visits the active rows
only with `sparse_state`, every row otherwise (EDBT's dense state), exactly as npmlp/optim.py.

Shape legend: L layers; W[l] (D_out, D_in), b[l] (D_out,); x (D_0,) one sample; C = D_L classes;
K[l] kept units of layer l, J[l] non-zero inputs of layer l (D_0 for layer 0, which is treated as dense).
"""
import numpy as np
from numba import typed

from . import active_backward as KB
from . import active_forward as KF
from . import fused_loss as FL
from . import fused_lsh as FLSH
from . import update as KU
from ._jit import jit, register_warmup

STANDARD, DROPOUT, ALSH = 0, 1, 2
SGD, ADAM, ADAGRAD = 0, 1, 2
# counts[l, :] per layer, summed over the chunk's steps: what was computed, for the ledger
N_COUNTS = 4
CNT_K, CNT_J, CNT_KJ, CNT_VISIT = 0, 1, 2, 3


# ------------------------------------------------------------------ plain-NumPy reference

def fused_step_reference(Ws, bs, x, y, u, p, scale, lr):
    """One batch-1 DROPOUT (p < 1) or STANDARD (p = 1) step with plain SGD, written as the equations.

    Ws, bs: lists of W (D_out, D_in) and b (D_out,), updated in place; x (D_0,); y int; u (sum of the
    hidden widths,) uniforms. Returns the loss."""
    acts, masks, off = [x], [], 0
    for l, (W, b) in enumerate(zip(Ws, bs)):
        z = W @ acts[-1] + b                            # EDBT §4: z^k = a^{k-1} W^k + b^k
        if l == len(Ws) - 1:
            break
        r = u[off:off + W.shape[0]] < p                 # r_j ~ Bernoulli(p)  (p = 1: every unit)
        off += W.shape[0]
        masks.append(r * scale)
        acts.append(np.maximum(z, 0) * masks[-1])       # a^k = r ⊙ f(z^k) / p
    shifted = z - z.max()
    logp = shifted - np.log(np.exp(shifted).sum())      # log-softmax
    delta = np.exp(logp)
    delta[y] -= 1                                       # dL/dz = softmax - onehot(y)
    for l in reversed(range(len(Ws))):
        W, a = Ws[l], acts[l]
        d_prev = W.T @ delta if l > 0 else None         # Eq. 1: W^k delta^k (with the old W)
        W -= lr * np.outer(delta, a)                    # Eq. 1: ∇W = a^{k-1} delta^k
        bs[l] -= lr * delta                             #        ∇b = delta^k
        if l > 0:
            delta = d_prev * masks[l - 1] * (acts[l] > 0)   # f'(z) ⊙ r / p
    return float(-logp[y])


# ------------------------------------------------------------------ helpers

@jit
def _select(method, l, u, off, p, W, idx, x, xv, xi32, J, lsh, pool_u, cursor, pool_next):
    """The kept units of hidden layer l into idx, sorted; returns K.

    DROPOUT: r_j ~ Bernoulli(p) from the pre-drawn uniforms u[off:off + D_out].
    ALSH: the query Q(a^{l-1}) hashed into the layer's L tables (EDBT Eq. 2-4) and the run's
    selection policy over its buckets (kernels/fused_lsh.py: every hash family and policy of
    strategies/alsh.py, with the same kernels and the strategy's own uniform pool), sorted.
    A new method plugs in here: a branch that writes sorted ids into idx and returns their number."""
    d_out = W.shape[0]
    K = 0
    if method == DROPOUT:
        for j in range(d_out):                           # r_j ~ Bernoulli(p)
            if u[off + j] < p:
                idx[K] = j
                K += 1
    elif method == ALSH:
        K = FLSH.select_alsh(l, x, xv, xi32, J, lsh, pool_u, cursor, pool_next, idx)
    return K


@jit
def _update(opt, W, b, S1, S2, S1b, S2b, G, A, db, visit, pos, step, corr, lr, mu, b1, b2, c1, c2, eps,
            scratch, bscratch, weights):
    """The optimiser's update of one layer (of its bias alone when not `weights`: a fused backward
    did W): the very kernels npmlp/optim.py calls, same arguments."""
    if opt == SGD:
        vel, velb = (W, b) if mu == 0 else (S1, S1b)
        if weights:
            KU.sgd_factored(W, vel, G, A, visit, pos, lr, mu, scratch)
        KU.sgd_materialized(b, velb, db, visit, pos, lr, mu, bscratch)
    elif opt == ADAM:
        if weights:
            KU.adam_factored(W, S1, S2, G, A, visit, pos, step, corr, b1, b2, c1, c2, eps, scratch)
        KU.adam_materialized(b, S1b, S2b, db, visit, pos, step, corr, b1, b2, c1, c2, eps, bscratch)
    else:
        if weights:
            KU.adagrad_factored(W, S1, G, A, visit, pos, lr, eps, scratch)
        KU.adagrad_materialized(b, S1b, db, visit, pos, lr, eps)


# ------------------------------------------------------------------ the chunk kernel

@jit
def fused_chunk(method, opt, sparse_state, X, Y, order, u, lrs, adam_dense, pow1, pow2, lsh, pool_u,
                cursor, pool_next, pool_need,
                Ws, bs, bs2, S1, S2, S1b, S2b, trows, p, scale, mu, b1, b2, c1, c2, eps,
                zs, acts, idxs, xis, xi32s, xvs, dxvs, dxds, dzs, poss, steps, corrs, allrows,
                scratch, bscratch, work, Ks, counts, loss_sum):
    """Run len(order) batch-1 steps on samples X[order[s]] with labels Y[order[s]].

    u (n, sum of hidden widths) float64 uniforms (DROPOUT; unused otherwise); lrs (n,) float64
    learning rates; adam_dense (n, 2) float64 Adam step size lr/(1-b1^t) and 1/sqrt(1-b2^t) per step
    (dense state); pow1/pow2 float64 tables b1^t, b2^t (lazy Adam). Per-layer lists: Ws, bs (and bs2,
    the same biases as (D_out, 1)), optimiser state S1/S2 (weights) and S1b/S2b (biases, (D_out, 1)),
    trows (D_out,) int64 lazy Adam step counts; scratch: zs, dzs, idxs, poss, steps, corrs, allrows
    (D_out,), acts (D_out,) zero outside the kept units between steps, xis/xvs/dxvs/dxds/scratch
    (D_in,), bscratch (1,), work (C,), Ks (L,). counts (L, N_COUNTS) int64 accumulates the work done;
    loss_sum (1,) float64 accumulates the losses in order, as the engine's epoch sum does.

    lsh (LshArgs) holds ALSH's per-layer hash functions, tables and selection scratch; pool_u and
    cursor are its uniform pool (kernels/lsh_select.py), of which a step may use pool_need;
    pool_next (1 + len(pool_u),) float64 holds a flag and the pool's next refill, used at most once
    per chunk (the pool's generator cannot be called from compiled code).

    Returns the number of steps done: fewer than len(order) when a loss is not finite (that step is
    left undone, no parameter touched, so the engine runs it on the reference path, which reports
    the divergence) or when ALSH's pool may need a second refill (the next chunk brings one)."""
    L = len(Ws)
    dt = Ws[0].dtype.type
    one, zero = dt(1), dt(0)
    for s in range(order.shape[0]):
        if len(pool_u) - cursor[0] < pool_need and pool_next[0] != 0:
            return s            # a second refill could be needed: the runner draws the next one
        i = order[s]
        # ---------------- forward (EDBT §4) on the kept units; layer l reads a^{l-1} at xi[l]
        off = 0
        for l in range(L):
            W, b, z, idx = Ws[l], bs[l], zs[l], idxs[l]
            d_out, d_in = W.shape
            if l == L - 1 or method == STANDARD:
                K = d_out
                idx[:] = allrows[l]
            else:
                J = d_in if l == 0 else xis[l][0]
                K = _select(method, l, u[s], off, p, W, idx, X[i], xvs[l], xi32s[l], J, lsh,
                            pool_u, cursor, pool_next)
                off += d_out
            Ks[l] = K
            if l == 0 or method == STANDARD:
                J = d_in
                KF.active_forward_1(X[i] if l == 0 else acts[l - 1], W, b, idx[:K], z[:K])
            else:
                J = xis[l][0]                    # slot 0 holds J, the ids follow
                KF.sparse_forward_1(xvs[l][:J], xis[l][1:J + 1], W, b, idx[:K], z[:K])
            counts[l, CNT_K] += K
            counts[l, CNT_J] += J
            counts[l, CNT_KJ] += K * J
            if l < L - 1:
                Jn = relu_scatter(z, idx, K, scale, acts[l], xvs[l + 1], xis[l + 1])
                for q in range(Jn):                  # the same ids as int32 (ALSH's query)
                    xi32s[l + 1][q] = xis[l + 1][q + 1]
        # ---------------- loss (always exact)
        C = Ws[L - 1].shape[0]
        loss = FL.log_softmax_nll_1(zs[L - 1][:C], Y[i], work, dzs[L - 1][:C])
        if not np.isfinite(loss):
            for l in range(L - 1):
                _clear(acts[l], idxs[l], Ks[l])
            return s
        loss_sum[0] += np.float64(loss)
        # ---------------- backward and update, top layer first (each input gradient uses the
        # layer's old W; no layer's backward reads another layer's W, so updating layer l right
        # after its backward equals the reference's update of all layers after the backward pass)
        lr = lrs[s]
        for l in range(L - 1, -1, -1):
            W, b, dz, idx = Ws[l], bs2[l], dzs[l], idxs[l]
            d_out, d_in = W.shape
            K = Ks[l]
            if l < L - 1:
                dxa = dxds[l + 1]
                for k in range(K):               # Eq. 1: delta = f'(z) ⊙ (W delta) ⊙ r / p
                    dz[k] = (dxa[idx[k]] * scale) * (one if zs[l][k] > zero else zero)
            x = X[i] if l == 0 else acts[l - 1]
            G = dz[:K].reshape((1, K))
            A = x.reshape((1, d_in))
            db = dz[:K].reshape((K, 1))
            dense_rows = l == L - 1 or method == STANDARD
            visit = allrows[l] if (dense_rows or not sparse_state) else idx[:K]
            pos = allrows[l]
            if not dense_rows:
                pos = poss[l]
                if not sparse_state:
                    pos[:] = -1
                for k in range(K):
                    pos[idx[k]] = k
            if opt == ADAM:
                st, co = steps[l], corrs[l]
                if sparse_state:                 # lazy Adam: each visited row's own step count
                    lazy_adam_steps(visit, trows[l], st, co, lr, pow1, pow2)
                else:
                    st[:] = dt(adam_dense[s, 0])
                    co[:] = dt(adam_dense[s, 1])
            applied = False
            if l > 0:
                dx = dxds[l]
                if method == STANDARD and opt == SGD and mu == 0:
                    # Eq. 1 (W delta, old W) and W -= lr a delta in one pass (as the reference)
                    KU.sgd_backward_fused(W, dz[:K], x, dt(lr), dx)
                    applied = True
                elif method == STANDARD and opt == ADAM:
                    KU.adam_backward_fused(W, S1[l], S2[l], dz[:K], x, steps[l], corrs[l], b1, b2,
                                        c1, c2, eps, dx)
                    applied = True
                elif method == STANDARD:
                    KB.backward_input_1(dz[:K], W, idx[:K], dx)
                else:
                    J = xis[l][0]
                    dxv = dxvs[l][:J]
                    KB.sparse_backward_input_1(dz[:K], W, idx[:K], xis[l][1:J + 1], dxv)
                    scatter_input_grad(dxv, xis[l][1:J + 1], dx, idxs[l - 1], Ks[l - 1])
            counts[l, CNT_VISIT] += visit.shape[0]
            _update(opt, W, b, S1[l], S2[l], S1b[l], S2b[l], G, A, db, visit, pos, steps[l],
                    corrs[l], dt(lr), dt(mu), b1, b2, c1, c2, eps, scratch[l], bscratch, not applied)
        for l in range(L - 1):
            if method != STANDARD:
                _clear(acts[l], idxs[l], Ks[l])
    return order.shape[0]


@jit
def lazy_adam_steps(visit, tr, st, co, lr, pow1, pow2):
    """Lazy Adam's step size lr / (1 - b1^t) and 1 / sqrt(1 - b2^t) of each visited row, t its own
    step count (advanced here), from the power tables (npmlp/optim.py computes the same)."""
    dt = st.dtype.type
    for q in range(visit.shape[0]):
        r = visit[q]
        tr[r] += 1
        st[r] = dt(lr / (1.0 - pow1[tr[r]]))
        co[r] = dt(1.0 / np.sqrt(1.0 - pow2[tr[r]]))


@jit
def relu_scatter(z, idx, K, scale, a, nv, ni):
    """The kept units' activations: ReLU on z[:K] in place (so f'(z) = 1[z > 0] after it), r f(z) / p
    scattered into the dense activation a at idx, and its non-zero values and ids listed in nv and
    ni (ni[0] = their count J, the ids after: np.flatnonzero(a)). Returns J."""
    zero = z.dtype.type(0)
    Jn = 0
    for k in range(K):
        zk = z[k]
        ak = zk if (zk >= zero or np.isnan(zk)) else zero   # a = f(z) = np.maximum(z, 0)
        z[k] = ak
        v = ak * scale                                      # r f(z) / p (standout: scale 1)
        a[idx[k]] = v
        if v != zero:
            nv[Jn] = v
            ni[Jn + 1] = idx[k]
            Jn += 1
    ni[0] = Jn
    return Jn


@jit
def scatter_input_grad(dxv, ids, dx, prev_idx, Kp):
    """The dense input gradient dx from its values dxv at the J non-zero inputs ids: zero outside
    them (the previous layer's kept positions are cleared first: nothing else was set)."""
    for k in range(Kp):
        dx[prev_idx[k]] = dx.dtype.type(0)
    for j in range(ids.shape[0]):
        dx[ids[j]] = dxv[j]


@jit
def _clear(a, idx, K):
    """Zero the kept units' activations, so the dense vector is zero outside the next step's set."""
    for k in range(K):
        a[idx[k]] = a.dtype.type(0)


# ------------------------------------------------------------------ workspace

def make_workspace(Ws, dtype):
    """The scratch arrays of fused_chunk for layers of the given W shapes (allocated once)."""
    lst = as_list
    d_out = [W.shape[0] for W in Ws]
    d_in = [W.shape[1] for W in Ws]
    ws = dict(
        zs=lst(np.zeros(d, dtype) for d in d_out),
        acts=lst(np.zeros(d, dtype) for d in d_out),
        idxs=lst(np.zeros(d, np.int64) for d in d_out),
        xis=lst(np.zeros(d + 1, np.int64) for d in d_in),
        xi32s=lst(np.zeros(d, np.int32) for d in d_in),
        xvs=lst(np.zeros(d, dtype) for d in d_in),
        dxvs=lst(np.zeros(d, dtype) for d in d_in),
        dxds=lst(np.zeros(d, dtype) for d in d_in),
        dzs=lst(np.zeros(d, dtype) for d in d_out),
        poss=lst(np.full(d, -1, np.int64) for d in d_out),
        steps=lst(np.zeros(d, dtype) for d in d_out),
        corrs=lst(np.zeros(d, dtype) for d in d_out),
        allrows=lst(np.arange(d, dtype=np.int64) for d in d_out),
        scratch=lst(np.zeros(d, dtype) for d in d_in),
        bscratch=np.zeros(1, dtype),
        work=np.zeros(d_out[-1], dtype),
        Ks=np.zeros(len(Ws), np.int64),
    )
    return ws


def as_list(arrays):
    out = typed.List()
    for a in arrays:
        out.append(a)
    return out


def warmup_network(dt):
    """A 5-4-2 network of dtype dt, 3 samples, and zero optimiser state (2 slots for W and for b):
    the arrays the warm-ups of fused_step and fused_adaptive compile their chunks on."""
    rng = np.random.default_rng(0)
    Ws = [rng.standard_normal((4, 5)).astype(dt), rng.standard_normal((2, 4)).astype(dt)]
    bs = [np.zeros(4, dt), np.zeros(2, dt)]
    X = rng.random((3, 5)).astype(dt)
    state = [as_list(np.zeros_like(W) for W in Ws) for _ in range(2)]
    stateb = [as_list(np.zeros((b.shape[0], 1), dt) for b in bs) for _ in range(2)]
    return rng, Ws, bs, X, state, stateb


@register_warmup
def warmup():
    """Compile fused_chunk for both dtypes on a 5-4-2 network, every method and optimiser."""
    for dt in (np.float32, np.float64):
        Y = np.array([0, 1, 0], np.int64)
        order = np.arange(3, dtype=np.int64)
        for method in (STANDARD, DROPOUT):
            for opt in (SGD, ADAM, ADAGRAD):
                rng, Ws, bs, X, state, stateb = warmup_network(dt)
                ws = make_workspace(Ws, dt)
                fused_chunk(method, opt, True, X, Y, order, rng.random((3, 4)), np.full(3, 1e-3),
                            np.ones((3, 2)), np.full(10, 0.5), np.full(10, 0.5), FLSH.no_lsh(dt),
                            np.zeros(1), np.zeros(1, np.int64), np.zeros(2), 0,
                            as_list(Ws), as_list(bs), as_list(b[:, None] for b in bs),
                            state[0], state[1], stateb[0], stateb[1],
                            as_list(np.zeros(W.shape[0], np.int64) for W in Ws),
                            0.5, dt(2), dt(0), dt(0.9), dt(0.999), dt(0.1), dt(0.001), dt(1e-8),
                            **ws, counts=np.zeros((2, N_COUNTS), np.int64),
                            loss_sum=np.zeros(1))
