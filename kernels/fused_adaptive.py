"""ADAPTIVE-DROPOUT's (standout's) batch-1 training step in one compiled call, a chunk of steps per call.

The sibling of kernels/fused_step.py for npmlp/strategies/adaptive_dropout.py; npmlp/fastpath.py
dispatches here, in one place, when the strategy is ADAPTIVE-DROPOUT. Per step, for hidden layer l
with J non-zero inputs (every pixel for layer 1, the previous layer's positive kept units after that):

    z      = W x_J + b                 every unit (EDBT §4): the keep probabilities need every z_j
    keep_j = sigmoid(alpha z_j + beta c)   c = 1 or sum(x) (beta_mode); beta calibrated per sample
                                       to the target mean keep, warm-started from the layer's last
                                       beta (kernels/standout.py, the call the reference path makes)
    m_j    ~ Bernoulli(keep_j)          from the pre-drawn uniforms, in the reference's order
    a_S    = f(z_S) on the kept units S  (no rescaling: standout's a_j = m_j f(z_j))
    then exactly DROPOUT's step on S: delta_S = f'(z_S) ⊙ (W^{l+1} delta^{l+1})_S (EDBT Eq. 1),
    dx_J = delta_S W[S][:, J], and the optimiser's update of the rows S (all rows with dense state).
The output layer keeps every unit.

The arithmetic is not re-implemented: the products, the calibration and the updates call the jitted
kernels the reference path calls (active_forward, standout, active_backward, update through
fused_step._update), the loss is fused_loss.log_softmax_nll_1, and what the reference does in NumPy
(alpha z in float64, the sum of the input, the comparison with the uniforms, ReLU, the scatter) is
written to do the same IEEE operations, so float64 runs are bit-identical (tests/test_fastpath_adaptive.py).
What bounds it: the forward is D_out x J per hidden layer by design (the dense first layer, 784 x
1000, is most of it), plus D_out exponentials per calibration pass.

Shape legend: L layers; W[l] (D_out, D_in), b[l] (D_out,); x (D_0,) one sample; C = D_L classes;
K[l] kept units of layer l (C for the output layer); J[l] non-zero inputs of layer l.
"""
import numpy as np

from . import active_backward as KB
from . import active_forward as KF
from . import fused_loss as FL
from . import fused_step as KS
from . import standout as KSO
from ._jit import jit, register_warmup
from .fused_step import ADAGRAD, ADAM, CNT_J, CNT_K, CNT_KJ, CNT_VISIT, N_COUNTS, SGD

ADAPTIVE = 4      # fastpath.METHODS' code (after fused_step's 0-2 and fused_topk's 3)


# ------------------------------------------------------------------ plain-NumPy reference

def fused_adaptive_step_reference(Ws, bs, x, y, u, alpha, betas, target, per_weight, lr):
    """One batch-1 ADAPTIVE-DROPOUT step with plain SGD, written as the equations.

    Ws, bs: lists of W (D_out, D_in) and b (D_out,), updated in place; x (D_0,); y int; u (sum of
    the hidden widths,) uniforms; betas (L,) float64 warm starts, updated in place. Returns the loss."""
    acts, masks, off = [x], [], 0
    for l, (W, b) in enumerate(zip(Ws, bs)):
        z = W @ acts[-1] + b                            # EDBT §4: every unit's z^k
        if l == len(Ws) - 1:
            break
        c = np.array([acts[-1].sum(dtype=np.float64) if per_weight else 1.0])
        beta, keep = KSO.standout_keep_reference(alpha * z[None].astype(np.float64), c, target,
                                                 betas[l])  # keep_j = sigmoid(alpha z_j + beta c)
        if target > 0:
            betas[l] = beta[0]
        m = u[off:off + W.shape[0]] < keep[0]           # m_j ~ Bernoulli(keep_j)
        off += W.shape[0]
        masks.append(m)
        acts.append(np.maximum(z, 0) * m)               # a_j = m_j f(z_j), no rescaling
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
            delta = d_prev * masks[l - 1] * (acts[l] > 0)   # f'(z) ⊙ m
    return float(-logp[y])


# ------------------------------------------------------------------ helpers

@jit
def _keep_units(l, s, off, z_all, x, alpha, target, per_weight, betas, u, idx, z, ws):
    """Hidden layer l's kept units into idx (sorted) and their z into z; returns K.

    keep = sigmoid(alpha z + beta c) by the standout kernel on (1, D_out) views (c = 1, or sum(x)
    summed in float64 in NumPy's order), then m_j = u[s, off + j] < keep_j."""
    u64, keep, in64, cvec, beta1, f1, kwork = ws
    d_out = z_all.shape[0]
    for j in range(d_out):
        u64[l][j] = alpha * np.float64(z_all[j])                 # u = alpha * z.astype(float64)
    cvec[0] = 1.0
    if per_weight:
        xv = in64[l]
        for j in range(x.shape[0]):
            xv[j] = np.float64(x[j])
        cvec[0] = KSO.pairwise_sum(xv)                           # a.sum(dtype=np.float64)
    kp = keep[l]
    KSO.standout_keep(u64[l].reshape((1, d_out)), cvec, target, betas[l], beta1,
                      kp.reshape((1, d_out)), f1, kwork[l])
    if target > 0:
        betas[l] = beta1[0]                                      # the next step's warm start
    K = 0
    for j in range(d_out):
        if u[s, off + j] < kp[j]:                                # m_j ~ Bernoulli(keep_j)
            idx[K] = j
            z[K] = z_all[j]
            K += 1
    return K


@jit
def _adam_steps(sparse_state, visit, trows, st, co, lr, pow1, pow2, dense):
    """Adam's per-row step size lr / (1 - b1^t) and 1 / sqrt(1 - b2^t) as npmlp/optim.py forms
    them: each visited row's own count t (lazy state) or the step's (dense state)."""
    dt = st.dtype.type
    if sparse_state:
        for q in range(visit.shape[0]):
            r = visit[q]
            trows[r] += 1
            st[r] = dt(lr / (1.0 - pow1[trows[r]]))
            co[r] = dt(1.0 / np.sqrt(1.0 - pow2[trows[r]]))
    else:
        st[:] = dt(dense[0])
        co[:] = dt(dense[1])


# ------------------------------------------------------------------ the chunk kernel

@jit
def fused_adaptive_chunk(opt, sparse_state, X, Y, order, u, lrs, adam_dense, pow1, pow2,
                         Ws, bs, bs2, S1, S2, S1b, S2b, trows, alpha, target, per_weight, betas,
                         mu, b1, b2, c1, c2, eps,
                         zs, acts, idxs, xis, xvs, dxvs, dxds, dzs, poss, steps, corrs, allrows,
                         scratch, bscratch, work, Ks, z_all, u64, keep, in64, cvec, beta1, f1,
                         kwork, beta_prev, counts, loss_sum):
    """Run len(order) batch-1 ADAPTIVE-DROPOUT steps on samples X[order[s]], labels Y[order[s]].

    As kernels/fused_step.py:fused_chunk (the same arguments, the same scratch) but for: alpha,
    target (0: beta fixed), per_weight (c = sum of the layer input) and betas (L,) float64, the
    strategy's per-layer beta, read as warm start and written back per step; scratch z_all (D_out,)
    in the weights' dtype, u64, keep, kwork (D_out,) and in64 (D_in,) float64, cvec, beta1, f1 (1,),
    beta_prev (L,). u (n, sum of hidden widths) float64 uniforms, one per hidden unit per step.

    Returns the number of steps done: fewer than len(order) when a loss is not finite (that step is
    left undone, parameters and betas as before it, so the engine runs it on the reference path)."""
    L = len(Ws)
    dt = Ws[0].dtype.type
    one, zero = dt(1), dt(0)
    cal = (u64, keep, in64, cvec, beta1, f1, kwork)
    for s in range(order.shape[0]):
        i = order[s]
        beta_prev[:] = betas
        # ---------------- forward: every unit's z, the keep draw, the kept units
        off = 0
        for l in range(L):
            W, b, z, idx = Ws[l], bs[l], zs[l], idxs[l]
            d_out, d_in = W.shape
            out_layer = l == L - 1
            za = z if out_layer else z_all[l]
            x = X[i] if l == 0 else acts[l - 1]
            if l == 0:
                J = d_in
                KF.active_forward_1(x, W, b, allrows[l], za)
            else:
                J = xis[l][0]                    # slot 0 holds J, the ids follow
                KF.sparse_forward_1(xvs[l][:J], xis[l][1:J + 1], W, b, allrows[l], za)
            if out_layer:
                K = d_out
            else:
                K = _keep_units(l, s, off, za, x, alpha, target, per_weight, betas, u, idx, z,
                                cal)
                off += d_out
            Ks[l] = K
            counts[l, CNT_K] += K
            counts[l, CNT_J] += J
            counts[l, CNT_KJ] += K * J
            if not out_layer:                    # a = m f(z), f = ReLU, no rescaling
                KS.relu_scatter(z, idx, K, one, acts[l], xvs[l + 1], xis[l + 1])
        # ---------------- loss (always exact)
        C = Ws[L - 1].shape[0]
        loss = FL.log_softmax_nll_1(zs[L - 1][:C], Y[i], work, dzs[L - 1][:C])
        if not np.isfinite(loss):
            for l in range(L - 1):
                KS._clear(acts[l], idxs[l], Ks[l])
            betas[:] = beta_prev
            return s
        loss_sum[0] += np.float64(loss)
        # ---------------- backward and update, top layer first (DROPOUT's, scale 1)
        lr = lrs[s]
        for l in range(L - 1, -1, -1):
            W, b, dz = Ws[l], bs2[l], dzs[l]
            d_out, d_in = W.shape
            K = Ks[l]
            out_layer = l == L - 1
            rows = allrows[l] if out_layer else idxs[l][:K]
            if not out_layer:
                dxa = dxds[l + 1]
                for k in range(K):               # Eq. 1: delta = f'(z) ⊙ (W delta) ⊙ m
                    dz[k] = dxa[rows[k]] * (one if zs[l][k] > zero else zero)
            x = X[i] if l == 0 else acts[l - 1]
            visit = allrows[l] if (out_layer or not sparse_state) else rows
            pos = allrows[l]
            if not out_layer:
                pos = poss[l]
                if not sparse_state:
                    pos[:] = -1
                for k in range(K):
                    pos[rows[k]] = k
            if opt == ADAM:
                _adam_steps(sparse_state, visit, trows[l], steps[l], corrs[l], lr, pow1, pow2,
                            adam_dense[s])
            if l > 0:                            # Eq. 1: dx_J = delta_S W[S][:, J] (old W)
                J = xis[l][0]
                dxv = dxvs[l][:J]
                KB.sparse_backward_input_1(dz[:K], W, rows, xis[l][1:J + 1], dxv)
                KS.scatter_input_grad(dxv, xis[l][1:J + 1], dxds[l], idxs[l - 1], Ks[l - 1])
            counts[l, CNT_VISIT] += visit.shape[0]
            KS._update(opt, W, b, S1[l], S2[l], S1b[l], S2b[l], dz[:K].reshape((1, K)),
                       x.reshape((1, d_in)), dz[:K].reshape((K, 1)), visit, pos, steps[l],
                       corrs[l], dt(lr), dt(mu), b1, b2, c1, c2, eps, scratch[l], bscratch, True)
        for l in range(L - 1):
            KS._clear(acts[l], idxs[l], Ks[l])
    return order.shape[0]


# ------------------------------------------------------------------ workspace

def make_workspace(Ws, dtype):
    """fused_step's scratch (but ALSH's) and the calibration's, allocated once."""
    ws = KS.make_workspace(Ws, dtype)
    del ws["xi32s"]
    d_out = [W.shape[0] for W in Ws]
    ws.update(z_all=KS.as_list(np.zeros(d, dtype) for d in d_out),
              u64=KS.as_list(np.zeros(d) for d in d_out), keep=KS.as_list(np.zeros(d) for d in d_out),
              kwork=KS.as_list(np.zeros(d) for d in d_out), in64=KS.as_list(np.zeros(W.shape[1]) for W in Ws),
              cvec=np.zeros(1), beta1=np.zeros(1), f1=np.zeros(1), beta_prev=np.zeros(len(Ws)))
    return ws


@register_warmup
def warmup():
    """Compile fused_adaptive_chunk for both dtypes on a 5-4-2 network, every optimiser."""
    for dt in (np.float32, np.float64):
        for opt in (SGD, ADAM, ADAGRAD):
            rng, Ws, bs, X, state, stateb = KS.warmup_network(dt)
            ws = make_workspace(Ws, dt)
            fused_adaptive_chunk(
                opt, True, X, np.array([0, 1, 0], np.int64), np.arange(3, dtype=np.int64),
                rng.random((3, 4)), np.full(3, 1e-3), np.ones((3, 2)), np.full(10, 0.5),
                np.full(10, 0.5), KS.as_list(Ws), KS.as_list(bs), KS.as_list(b[:, None] for b in bs),
                state[0], state[1], stateb[0], stateb[1],
                KS.as_list(np.zeros(W.shape[0], np.int64) for W in Ws), 1.0, 0.5, True, np.zeros(2),
                dt(0), dt(0.9), dt(0.999), dt(0.1), dt(0.001), dt(1e-8), **ws,
                counts=np.zeros((2, N_COUNTS), np.int64), loss_sum=np.zeros(1))
