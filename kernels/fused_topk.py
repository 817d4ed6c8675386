"""TOPK's batch-1 training step in one compiled call, and a chunk of such steps per call.

The sibling of kernels/fused_step.py for TOPK (npmlp/strategies/topk.py, not in the paper), whose
layers are stored input-major (WT = W.T, (D_in, D_out) C-contiguous, the paper's own W^k) and whose
backward and update work on the kept block J x S with lazy block optimiser state. npmlp/fastpath.py
dispatches here, in one place, when the strategy is TOPK. Per step, for hidden layer l with J
non-zero inputs (the image's non-zero pixels for layer 1, the previous layer's positive kept units
after that) and k kept units:

    z     = x_J WT[J, :] + b           every unit scored from the J inputs (EDBT §4); the scores
                                       ARE z, so the kept units need no second forward
    S     = top_k(z)                   ties to the lower id, ascending (kernels/topk.py)
    a_S   = f(z_S)                     ReLU; a = 0 outside S
    delta_S = f'(z_S) ⊙ (W^{l+1} delta^{l+1})_S            (EDBT Eq. 1 on S)
    dx_J  = WT[J, S] delta_S                                 (Eq. 1 on the block)
    block update of WT[J, S] and b_S from ∇ = x_J^T delta_S  (Eq. 1; kernels/topk_update.py)
The output layer keeps every unit and is scored the same way (its input is sparse).

The arithmetic is not re-implemented: scoring, selection, block input gradient and block updates
call kernels/topk.py and kernels/topk_update.py, the kernels the reference path calls, on the same
numbers; the loss is fused_loss.log_softmax_nll_1 (NumPy's summation order). What the reference does
in NumPy (ReLU, the gather of z_S, the scatter of dx) is written to do the same IEEE operations, so
float64 runs are bit-identical (tests/test_fastpath.py). Updating layer l right after its own
backward equals the reference's update after the whole backward pass: no layer's backward reads
another layer's W.

Shape legend: L layers; WT[l] (D_in, D_out), b[l] (D_out,); x (D_0,) one sample; C = D_L classes;
k[l] kept units of layer l (C for the output layer); J[l] non-zero inputs of layer l.
"""
import numpy as np
from numba import typed

from . import topk as KT
from . import topk_update as KTU
from ._jit import jit, register_warmup
from .fused_loss import log_softmax_nll_1
from .fused_step import ADAGRAD, ADAM, CNT_J, CNT_K, CNT_KJ, N_COUNTS, SGD

TOPK = 3          # fastpath.METHODS' code for TOPK (after fused_step's STANDARD, DROPOUT, ALSH)


# ------------------------------------------------------------------ plain-NumPy reference

def fused_topk_step_reference(WTs, bs, x, y, ks, lr):
    """One batch-1 TOPK step with plain SGD, written as the equations.

    WTs, bs: lists of WT (D_in, D_out) and b (D_out,), updated in place; x (D_0,); y int; ks the kept
    units per hidden layer. Returns the loss."""
    L = len(WTs)
    acts, sets = [x], []
    for l, (WT, b) in enumerate(zip(WTs, bs)):
        z = acts[-1] @ WT + b                           # EDBT §4: z^k = a^{k-1} W^k + b^k
        if l == L - 1:
            break
        S = np.sort(np.argsort(-z, kind="stable")[:ks[l]])   # top k, ties to the lower id
        a = np.zeros_like(z)
        a[S] = np.maximum(z[S], 0)                      # a^k = f(z^k) on S, 0 elsewhere
        sets.append(S)
        acts.append(a)
    shifted = z - z.max()
    logp = shifted - np.log(np.exp(shifted).sum())      # log-softmax
    delta = np.exp(logp)
    delta[y] -= 1                                       # dL/dz = softmax - onehot(y)
    for l in reversed(range(L)):
        WT, a = WTs[l], acts[l]
        d_prev = WT @ delta if l > 0 else None          # Eq. 1: W^k delta^k (with the old W)
        WT -= lr * np.outer(a, delta)                   # Eq. 1: ∇W = a^{k-1} delta^k (0 off J x S)
        bs[l] -= lr * delta                             #        ∇b = delta^k (0 off S)
        if l > 0:
            S = sets[l - 1]
            d = np.zeros_like(d_prev)
            d[S] = d_prev[S] * (acts[l][S] > 0)         # f'(z) on S, 0 off S
            delta = d
    return float(-logp[y])


# ------------------------------------------------------------------ the chunk kernel

@jit
def fused_topk_chunk(opt, X, Y, order, lrs, ks, WTs, bs, S1, S2, S1b, S2b, trows, mu, b1, b2, eps,
                     zs, acts, idxs, xis, xvs, dxvs, dxds, dzs, allrows, work, Js, counts,
                     loss_sum):
    """Run len(order) batch-1 TOPK steps on samples X[order[s]] with labels Y[order[s]].

    lrs (n,) float64 learning rates; ks (L,) int64 kept units per layer (C for the output layer).
    Per-layer lists: WTs (D_in, D_out) input-major weights, bs (D_out,); optimiser state over WT's
    layout: S1, S2 (D_in, D_out) (SGD: velocity, or WT itself at mu = 0; Adam: m, v; Adagrad: h),
    S1b, S2b (D_out,) the biases' state, trows (D_out,) int64 Adam's per-unit step counts. mu, b1, b2,
    eps float64 (Adam's kernel takes them so; SGD and Adagrad round them to the weights' dtype, as
    optim_block.update_block does). Scratch: zs, acts, idxs, dzs, allrows (D_out,); xis, xvs, dxvs,
    dxds (D_in,); work (C,); Js (L,). counts (L, N_COUNTS) int64 accumulates K, J, K*J per layer;
    loss_sum (1,) float64 accumulates the losses in order.

    Returns the number of steps done: fewer than len(order) when a loss is not finite (that step is
    left undone, nothing written, so the engine runs it on the reference path, which reports the
    divergence)."""
    L = len(WTs)
    dt = WTs[0].dtype.type
    one, zero = dt(1), dt(0)
    for s in range(order.shape[0]):
        i = order[s]
        x = X[i]
        J = 0
        for j in range(x.shape[0]):                      # np.flatnonzero(x): layer 1's inputs
            if x[j] != zero:
                xvs[0][J] = x[j]
                xis[0][J] = j
                J += 1
        Js[0] = J
        # ---------------- forward (EDBT §4): every unit scored from the J non-zero inputs
        for l in range(L):
            J, K = Js[l], ks[l]
            z = zs[l]
            KT.score_1(xvs[l][:J], xis[l][:J], WTs[l], bs[l], z)
            if l == L - 1:
                break
            idx, a = idxs[l], acts[l]
            KT.select_topk_1(z, K, idx[:K])              # S = top_k(z), ascending
            nv, ni = xvs[l + 1], xis[l + 1]
            Jn = 0
            for q in range(K):
                zk = z[idx[q]]
                ak = zk if (zk >= zero or np.isnan(zk)) else zero   # a_S = f(z_S) = max(z_S, 0)
                a[q] = ak
                if ak != zero:                                      # np.flatnonzero(a)
                    nv[Jn] = ak
                    ni[Jn] = idx[q]
                    Jn += 1
            Js[l + 1] = Jn
        # ---------------- loss (always exact)
        C = ks[L - 1]
        loss = log_softmax_nll_1(zs[L - 1][:C], Y[i], work, dzs[L - 1][:C])
        if not np.isfinite(loss):
            return s
        loss_sum[0] += np.float64(loss)
        # ---------------- backward and block update, top layer first
        lr = lrs[s]
        for l in range(L - 1, -1, -1):
            WT, b, dz = WTs[l], bs[l], dzs[l]
            J, K = Js[l], ks[l]
            cols = allrows[l][:K] if l == L - 1 else idxs[l][:K]
            rows = xis[l][:J]
            if l < L - 1:
                dxa, a = dxds[l + 1], acts[l]
                for q in range(K):               # Eq. 1: delta_S = f'(z_S) ⊙ (W delta)_S
                    dz[q] = dxa[cols[q]] * (one if a[q] > zero else zero)
            if l > 0:
                dxv = dxvs[l][:J]
                KT.block_backward_input_1(dz[:K], cols, rows, WT, dxv)   # dx_J = WT[J, S] delta_S
                dx = dxds[l]
                ip = idxs[l - 1]
                for q in range(ks[l - 1]):       # dx is zero outside the J non-zero inputs
                    dx[ip[q]] = zero
                for j in range(J):
                    dx[rows[j]] = dxv[j]
            A = xvs[l][:J].reshape((1, J))       # Eq. 1: ∇WT[J, S] = x_J^T delta_S (factored)
            G = dz[:K].reshape((1, K))
            if opt == ADAM:
                KTU.adam_block(WT, S1[l], S2[l], b, S1b[l], S2b[l], A, G, rows, cols, trows[l],
                               lr, b1, b2, eps)
            elif opt == SGD:
                KTU.sgd_block(WT, S1[l], b, S1b[l], A, G, rows, cols, dt(lr), dt(mu))
            else:
                KTU.adagrad_block(WT, S1[l], b, S1b[l], A, G, rows, cols, dt(lr), dt(eps))
            counts[l, CNT_K] += K
            counts[l, CNT_J] += J
            counts[l, CNT_KJ] += K * J
    return order.shape[0]


# ------------------------------------------------------------------ workspace

def _lst(arrays):
    out = typed.List()
    for a in arrays:
        out.append(a)
    return out


def make_workspace(shapes, dtype):
    """The scratch arrays of fused_topk_chunk for layers of logical W shapes (D_out, D_in)."""
    d_out = [s[0] for s in shapes]
    d_in = [s[1] for s in shapes]
    return dict(
        zs=_lst(np.zeros(d, dtype) for d in d_out),
        acts=_lst(np.zeros(d, dtype) for d in d_out),
        idxs=_lst(np.zeros(d, np.int64) for d in d_out),
        xis=_lst(np.zeros(d, np.int64) for d in d_in),
        xvs=_lst(np.zeros(d, dtype) for d in d_in),
        dxvs=_lst(np.zeros(d, dtype) for d in d_in),
        dxds=_lst(np.zeros(d, dtype) for d in d_in),
        dzs=_lst(np.zeros(d, dtype) for d in d_out),
        allrows=_lst(np.arange(d, dtype=np.int64) for d in d_out),
        work=np.zeros(d_out[-1], dtype),
        Js=np.zeros(len(shapes), np.int64),
    )


@register_warmup
def warmup():
    """Compile fused_topk_chunk for both dtypes on a 5-4-3 network, every optimiser."""
    for dt in (np.float32, np.float64):
        rng = np.random.default_rng(0)
        WTs = [rng.standard_normal((5, 4)).astype(dt), rng.standard_normal((4, 3)).astype(dt)]
        bs = [np.zeros(4, dt), np.zeros(3, dt)]
        X = rng.random((3, 5)).astype(dt)
        Y = np.array([0, 1, 0], np.int64)
        ws = make_workspace([(4, 5), (3, 4)], dt)
        for opt in (SGD, ADAM, ADAGRAD):
            S = [_lst(np.zeros_like(W) for W in WTs) for _ in range(2)]
            Sb = [_lst(np.zeros_like(b) for b in bs) for _ in range(2)]
            fused_topk_chunk(opt, X, Y, np.arange(3, dtype=np.int64), np.full(3, 1e-3),
                             np.array([2, 3], np.int64), _lst(WTs), _lst(bs), S[0], S[1], Sb[0],
                             Sb[1], _lst(np.zeros(b.shape[0], np.int64) for b in bs), 0.0, 0.9,
                             0.999, 1e-8, **ws, counts=np.zeros((2, N_COUNTS), np.int64),
                             loss_sum=np.zeros(1))
