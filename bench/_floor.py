"""The kernel floor of a window of batch-1 steps: the time of its products and weight updates alone.

A fused window (npmlp/fastpath.py) is replayed step by step to record what each step computed (the
kept units and the non-zero inputs of every layer); `floor_window` then runs only the kernels that do
the arithmetic on those sets, in one compiled loop, with nothing else: forward products, input
gradients, the optimiser's pass over the touched rows (weights only). Selection, ReLU and scatter, the
loss, the bias updates, the Adam step sizes, the ledger and Python are what a step costs beyond it.

Recorded sets: idx (n, L, D_max) int64 padded, K (n, L); xi (n, L, D_max + 1) as the kernel keeps it
(slot 0 = J, the ids after).
"""
import numpy as np

from kernels import active_backward as KB
from kernels import active_forward as KF
from kernels import fused_step as KS
from kernels import update as KU
from kernels._jit import jit


def record(runner, ts, X, y, order):
    """Run the steps of `order` one at a time on the fast path; return (steps, idx, K, xi) as above,
    steps being the sample ids of the recorded steps (a step the chunk cannot take, ALSH's pool
    refill, runs on the reference path and is not recorded)."""
    from npmlp.engine import train_step
    L = len(ts.params)
    dmax = max(max(p.W.shape) for p in ts.params)
    n = order.shape[0]
    idx = np.zeros((n, L, dmax), np.int64)
    K = np.zeros((n, L), np.int64)
    xi = np.zeros((n, L, dmax + 1), np.int64)
    steps = []
    ts.perm, ts.pos = order, 0
    while ts.pos < n:
        s = len(steps)
        if not runner.run(ts, X, y, 1, 10 ** 9):
            i = ts.perm[ts.pos]
            train_step(ts, X[i:i + 1], y[i:i + 1])
            ts.pos += 1
            continue
        steps.append(ts.perm[ts.pos - 1])
        for l in range(L):
            k = runner.ws["Ks"][l]
            K[s, l] = k
            idx[s, l, :k] = runner.ws["idxs"][l][:k]
            j = runner.ws["xis"][l][0]
            xi[s, l, :j + 1] = runner.ws["xis"][l][:j + 1]
    s = len(steps)
    return np.array(steps, np.int64), idx[:s], K[:s], xi[:s]


@jit
def floor_window(method, opt, sparse_state, X, order, idx, K, xi, Ws, bs, S1, S2, allrows, xvs, xin,
                 zs, dzs, dxs, pos, step, corr, scratch):
    """The products and weight-row updates of the recorded steps, nothing else."""
    L = len(Ws)
    dt = Ws[0].dtype.type
    for s in range(order.shape[0]):
        x0 = X[order[s]]
        for l in range(L):
            W = Ws[l]
            k = K[s, l]
            J = xi[s, l, 0]
            z = zs[l][:k]
            if l == 0 or method == KS.STANDARD:
                KF.active_forward_1(x0 if l == 0 else xin[l], W, bs[l], idx[s, l, :k], z)
            else:
                KF.sparse_forward_1(xvs[l][:J], xi[s, l, 1:J + 1], W, bs[l], idx[s, l, :k], z)
        for l in range(L - 1, -1, -1):
            W = Ws[l]
            d_in = W.shape[1]
            k = K[s, l]
            J = xi[s, l, 0]
            dz = dzs[l][:k]
            x = x0 if l == 0 else xin[l]
            rows = idx[s, l, :k]
            if method == KS.STANDARD and opt == KS.SGD and l > 0:
                KU.sgd_backward_fused(W, dz, x, dt(1e-9), dxs[l])
                continue
            if l > 0:
                if method == KS.STANDARD:
                    KB.backward_input_1(dz, W, rows, dxs[l])
                else:
                    KB.sparse_backward_input_1(dz, W, rows, xi[s, l, 1:J + 1], dxs[l][:J])
            visit = rows
            if not (sparse_state or l == L - 1 or method == KS.STANDARD):
                visit = allrows[l]               # dense state: every row, -1 = no gradient
                pos[l][:] = -1
            for q in range(k):
                pos[l][rows[q]] = q
            G = dz.reshape((1, k))
            A = x.reshape((1, d_in))
            if opt == KS.ADAM:
                KU.adam_factored(W, S1[l], S2[l], G, A, visit, pos[l], step[l], corr[l], dt(0.9),
                                 dt(0.999), dt(1 - 0.9), dt(1 - 0.999), dt(1e-8), scratch[l])
            elif opt == KS.SGD:
                KU.sgd_factored(W, W, G, A, visit, pos[l], dt(1e-9), dt(0), scratch[l])
            else:
                KU.adagrad_factored(W, S1[l], G, A, visit, pos[l], dt(1e-9), dt(1e-8), scratch[l])


def floor_args(ts, runner):
    """Copies of the run's weights and state (the floor must not train the benchmarked model) and
    scratch (the gradient values are placeholders: only the work matters)."""
    dt = runner.dtype
    Ws = [p.W.copy() for p in ts.params]
    st = ts.optimizer.state
    S1 = [s.get("m_W", s.get("h_W", W)).copy() for s, W in zip(st, Ws)]
    S2 = [s.get("v_W", W).copy() for s, W in zip(st, Ws)]
    d_out = [W.shape[0] for W in Ws]
    d_in = [W.shape[1] for W in Ws]
    lst = KS.as_list
    return dict(
        Ws=lst(Ws), bs=lst(p.b.copy() for p in ts.params), S1=lst(S1), S2=lst(S2),
        allrows=lst(np.arange(d, dtype=np.int64) for d in d_out),
        xvs=lst(np.full(d, 0.5, dt) for d in d_in), xin=lst(np.full(d, 0.5, dt) for d in d_in),
        zs=lst(np.zeros(d, dt) for d in d_out), dzs=lst(np.full(d, 1e-3, dt) for d in d_out),
        dxs=lst(np.zeros(d, dt) for d in d_in),
        pos=lst(np.arange(d, dtype=np.int64) for d in d_out),
        step=lst(np.full(d, 1e-9, dt) for d in d_out), corr=lst(np.ones(d, dt) for d in d_out),
        scratch=lst(np.zeros(d, dt) for d in d_in))
