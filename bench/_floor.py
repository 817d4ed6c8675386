"""The floor of a window of fused batch-1 steps: everything a step computes, without the chunk around it.

A fused window (npmlp/fastpath.py) is replayed step by step to record what each step computed (the
kept units and the non-zero inputs of every layer). `floor_window` then runs, in one compiled loop,
the work of those steps by parts (a bit mask), each part the very kernels or loops kernels/fused_step.py
runs per step:

    products      forward products on the recorded sets, input gradients (STANDARD: the 4-row dot
                  kernel; with Adam or plain SGD the input gradient rides on the update's pass)
    updates       the optimiser's pass over the weight rows it visits (row positions included)
    selection     the kept units: DROPOUT's u < p comparison and index list over fresh uniforms of the
                  same shape, ALSH's query hashing, bucket lookup and union (fused_step._select, on
                  the tables as they stand after the window: same sizes, not the same buckets),
                  STANDARD's copy of every row id
    relu/scatter  ReLU, the scatter of the kept units into the dense activation and its non-zero
                  list, the backward's f'(z) r/p and input-gradient scatter, the per-step clearing
    loss          log-softmax and NLL of the output layer (kernels/fused_loss.py)
    bias+steps    lazy Adam's per-row step sizes from the power tables (dense Adam: the step's two
                  constants), the bias updates

The values are placeholders (copies of the run's weights and state, constant activations): only the
work matters, and the benchmarked model is not touched. `Floor.time_parts` times each part alone
and the complete floor (all parts in one loop); their difference is what the parts share (caches). What the floor leaves out is the control flow
between these pieces inside the compiled loop, and everything outside the compiled call: the
uniforms drawn per chunk (Runner.run times them itself: `draw_seconds`), the chunk's setup and ledger
accounting in Python, ALSH's table rebuilds.

Recorded sets: idx (n, L, D_max) int64 padded, K (n, L); xi (n, L, D_max + 1) as the kernel keeps it
(slot 0 = J, the ids after); xi32 the same ids as int32 (ALSH's sparse query).
"""
import time

import numpy as np

from kernels import active_backward as KB
from kernels import active_forward as KF
from kernels import fused_loss as FL
from kernels import fused_step as KS
from kernels import update as KU
from kernels._jit import jit

PRODUCTS, UPDATES, SELECT, RELU, LOSS, BIAS = 1, 2, 4, 8, 16, 32
PARTS = (("products", PRODUCTS), ("updates", UPDATES), ("selection", SELECT),
         ("relu/scatter", RELU), ("loss", LOSS), ("bias+steps", BIAS))
ALL = sum(bit for _, bit in PARTS)
TIMED = (("products+updates", PRODUCTS | UPDATES), *PARTS[2:])    # the parts time_parts reports
RESTORED = ("Ws", "bs", "S1", "S2", "S1b", "S2b", "xvs", "xin", "zs", "dzs", "dxs", "dxvs", "step",
            "corr", "scratch", "acts", "nvs")


def record(runner, ts, X, y, order):
    """Run the steps of `order` one at a time on the fast path; return (steps, idx, K, xi, xi32) as
    above, steps being the sample ids of the recorded steps (a step the chunk cannot take, ALSH's pool
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
    return np.array(steps, np.int64), idx[:s], K[:s], xi[:s], xi[:s, :, 1:].astype(np.int32)


@jit
def floor_window(parts, method, opt, sparse_state, mu, X, Y, order, idx, K, xi, xi32, u, p, scale,
                 lsh, pool_u, cursor, pool_next, Ws, bs, bs2, S1, S2, S1b, S2b, trows, pow1, pow2, lr,
                 allrows, xvs, xin, zs, dzs, dxs, dxvs, pos, step, corr, scratch, bscratch, work,
                 sel_idx, acts, nvs, nis):
    """The recorded steps' work, the parts in the bit mask `parts` only (see the module docstring)."""
    L = len(Ws)
    dt = Ws[0].dtype.type
    one, zero = dt(1), dt(0)
    b1, b2, c1, c2, eps = dt(0.9), dt(0.999), dt(1 - 0.9), dt(1 - 0.999), dt(1e-8)
    dlr = dt(lr)
    do_p, do_u, do_s = (parts & PRODUCTS) != 0, (parts & UPDATES) != 0, (parts & SELECT) != 0
    do_r, do_l, do_b = (parts & RELU) != 0, (parts & LOSS) != 0, (parts & BIAS) != 0
    for s in range(order.shape[0]):
        x0 = X[order[s]]
        off = 0
        for l in range(L):                                   # ---- forward
            W = Ws[l]
            k = K[s, l]
            J = xi[s, l, 0]
            z = zs[l][:k]
            dense = l == L - 1 or method == KS.STANDARD
            if do_s:
                if dense:
                    sel_idx[l][:] = allrows[l]
                else:
                    KS._select(method, l, u[s], off, p, W, sel_idx[l], x0, xvs[l],
                               xi32[s, l], W.shape[1] if l == 0 else J, lsh, pool_u, cursor,
                               pool_next)
                    off += W.shape[0]
            if do_p:
                if l == 0 or method == KS.STANDARD:
                    KF.active_forward_1(x0 if l == 0 else xin[l], W, bs[l], idx[s, l, :k], z)
                else:
                    KF.sparse_forward_1(xvs[l][:J], xi[s, l, 1:J + 1], W, bs[l],
                                        idx[s, l, :k], z)
            if do_r and l < L - 1:                   # ReLU, scatter, non-zero list
                KS.relu_scatter(z, idx[s, l], k, scale, acts[l], nvs[l + 1], nis[l + 1])
        if do_l:                                     # ---- loss
            C = Ws[L - 1].shape[0]
            FL.log_softmax_nll_1(zs[L - 1][:C], Y[order[s]], work, dzs[L - 1][:C])
        for l in range(L - 1, -1, -1):                       # ---- backward and update
            W = Ws[l]
            d_out, d_in = W.shape
            k = K[s, l]
            J = xi[s, l, 0]
            dz = dzs[l][:k]
            x = x0 if l == 0 else xin[l]
            rows = idx[s, l, :k]
            dense = l == L - 1 or method == KS.STANDARD
            if do_r and l < L - 1:
                dxa = dxs[l + 1]
                for q in range(k):                           # f'(z) r / p
                    dz[q] = (dxa[rows[q]] * scale) * (one if zs[l][q] > zero else zero)
            visit = allrows[l] if (dense or not sparse_state) else rows
            pl = allrows[l]
            if not dense and (do_u or do_b):
                pl = pos[l]
                if not sparse_state:
                    pl[:] = -1
                for q in range(k):
                    pl[rows[q]] = q
            if do_b and opt == KS.ADAM:             # Adam's per-row step sizes
                st, co = step[l], corr[l]
                if sparse_state:
                    KS.lazy_adam_steps(visit, trows[l], st, co, lr, pow1, pow2)
                else:
                    st[:] = dt(lr / (1.0 - 0.9 ** (s + 1)))
                    co[:] = dt(1.0 / np.sqrt(1.0 - 0.999 ** (s + 1)))
            fused = method == KS.STANDARD and l > 0 and (opt == KS.ADAM or (opt == KS.SGD and mu == 0))
            both = do_p and do_u
            if l > 0 and do_p and not (fused and both):
                if method == KS.STANDARD:
                    KB.backward_input_1(dz, W, rows, dxs[l])
                else:
                    KB.sparse_backward_input_1(dz, W, rows, xi[s, l, 1:J + 1], dxvs[l][:J])
            if do_r and l > 0 and not dense:         # dx scatter (zero outside J)
                KS.scatter_input_grad(dxvs[l][:J], xi[s, l, 1:J + 1], dxs[l], idx[s, l - 1],
                                      K[s, l - 1])
            G = dz.reshape((1, k))
            A = x.reshape((1, d_in))
            if do_u:
                if fused and both and opt == KS.ADAM:
                    KU.adam_backward_fused(W, S1[l], S2[l], dz, x, step[l], corr[l], b1, b2, c1,
                                           c2, eps, dxs[l])
                elif fused and both:
                    KU.sgd_backward_fused(W, dz, x, dlr, dxs[l])
                elif opt == KS.ADAM:
                    KU.adam_factored(W, S1[l], S2[l], G, A, visit, pl, step[l], corr[l], b1, b2,
                                     c1, c2, eps, scratch[l])
                elif opt == KS.SGD:
                    KU.sgd_factored(W, W if mu == 0 else S1[l], G, A, visit, pl, dlr, dt(mu),
                                    scratch[l])
                else:
                    KU.adagrad_factored(W, S1[l], G, A, visit, pl, dlr, eps, scratch[l])
            if do_b:                                 # the bias update
                db = dz.reshape((k, 1))
                b = bs2[l]
                if opt == KS.ADAM:
                    KU.adam_materialized(b, S1b[l], S2b[l], db, visit, pl, step[l], corr[l], b1,
                                         b2, c1, c2, eps, bscratch)
                elif opt == KS.SGD:
                    KU.sgd_materialized(b, b if mu == 0 else S1b[l], db, visit, pl, dlr, dt(mu),
                                        bscratch)
                else:
                    KU.adagrad_materialized(b, S1b[l], db, visit, pl, dlr, eps)
        if do_r and method != KS.STANDARD:
            for l in range(L - 1):
                KS._clear(acts[l], idx[s, l], K[s, l])


class Floor:
    """A recorded window of a fast-path run and its floor replay, timed by parts.

    `max_steps` bounds the replayed steps (the floor is per step; STANDARD's replays take ~4 ms a
    step each, and time_parts replays the window once per part)."""

    def __init__(self, runner, ts, X, y, order, max_steps=300, sets=None, method=None):
        """sets: record()'s result when the caller recorded the window itself (bench_adaptive.py
        records z beside it); method: replay as this fused_step method (default the runner's)."""
        steps, idx, K, xi, xi32 = (record(runner, ts, X, y, order[:max_steps]) if sets is None
                                   else sets)
        self.n = steps.shape[0]
        dt = runner.dtype
        Ws = [p.W.copy() for p in ts.params]
        st = ts.optimizer.state
        S1 = [s.get("m_W", s.get("h_W", s.get("vel_W", W))).copy() for s, W in zip(st, Ws)]
        S2 = [s.get("v_W", W).copy() for s, W in zip(st, Ws)]
        bs = [p.b.copy() for p in ts.params]
        S1b = [s.get("m_b", s.get("h_b", s.get("vel_b", b))).reshape(-1, 1).copy()
               for s, b in zip(st, bs)]
        S2b = [s.get("v_b", b).reshape(-1, 1).copy() for s, b in zip(st, bs)]
        self.trows0 = [s["t_rows"].copy() if "t_rows" in s else np.zeros(W.shape[0], np.int64)
                       for s, W in zip(st, Ws)]
        t = np.arange(max(int(a.max()) for a in self.trows0) + self.n + 2, dtype=np.float64)
        d_out = [W.shape[0] for W in Ws]
        d_in = [W.shape[1] for W in Ws]
        lst = KS.as_list
        u = np.random.default_rng(1).random((self.n, max(runner.hidden, 1)))
        lsh_args, pool = runner.lsh, (np.zeros(1), np.zeros(1, np.int64), np.zeros(2))
        if runner.method == KS.ALSH:           # a copy of the pool; its own copy refills it
            pu = ts.strategy.pool.u.copy()
            pool = (pu, np.zeros(1, np.int64), np.concatenate([[0.0], pu]))
        self.args = dict(
            method=runner.method if method is None else method, opt=runner.opt, sparse_state=runner.sparse_state,
            mu=float(runner.cfg.momentum), X=runner._inputs(X), Y=y.astype(np.int64), order=steps,
            idx=idx, K=K, xi=xi, xi32=xi32, u=u, p=runner.p, scale=runner.scale, lsh=lsh_args,
            pool_u=pool[0], cursor=pool[1], pool_next=pool[2], Ws=lst(Ws), bs=lst(bs),
            bs2=lst(b[:, None] for b in bs), S1=lst(S1), S2=lst(S2), S1b=lst(S1b), S2b=lst(S2b),
            trows=lst(a.copy() for a in self.trows0), pow1=0.9 ** t, pow2=0.999 ** t, lr=1e-9,
            allrows=lst(np.arange(d, dtype=np.int64) for d in d_out),
            xvs=lst(np.full(d, 0.5, dt) for d in d_in), xin=lst(np.full(d, 0.5, dt) for d in d_in),
            zs=lst(np.full(d, 0.5, dt) for d in d_out), dzs=lst(np.full(d, 1e-3, dt) for d in d_out),
            dxs=lst(np.zeros(d, dt) for d in d_in), dxvs=lst(np.zeros(d, dt) for d in d_in),
            pos=lst(np.full(d, -1, np.int64) for d in d_out),
            step=lst(np.full(d, 1e-9, dt) for d in d_out), corr=lst(np.ones(d, dt) for d in d_out),
            scratch=lst(np.zeros(d, dt) for d in d_in), bscratch=np.zeros(1, dt),
            work=np.zeros(d_out[-1], dt), sel_idx=lst(np.zeros(d, np.int64) for d in d_out),
            acts=lst(np.zeros(d, dt) for d in d_out), nvs=lst(np.zeros(d, dt) for d in d_in),
            nis=lst(np.zeros(d + 1, np.int64) for d in d_in))   # slot 0 = J, the ids after
        # every replay starts from the same values: repeated replays would otherwise drift (Adam's
        # moments decay under zero placeholder gradients into denormals, ~100x slower arithmetic)
        self.start = {key: [a.copy() for a in self.args[key]] for key in RESTORED}
        self.replay(ALL, 1)                     # compile outside any clock

    def restore(self):
        """The replay's arguments, their arrays reset to the values of the first replay."""
        a = dict(self.args)
        for tr, tr0 in zip(a["trows"], self.trows0):
            tr[:] = tr0                          # lazy Adam's counts restart: the power tables fit
        for key, arrays in self.start.items():
            for arr, arr0 in zip(a[key], arrays):
                arr[...] = arr0
        return a

    def replay(self, parts, n=None):
        """Seconds of one replay of the first n recorded steps (all by default) with `parts`."""
        a = self.restore()
        if n is not None:
            a.update(order=a["order"][:n])
        t0 = time.perf_counter()
        floor_window(parts, **a)
        return time.perf_counter() - t0

    def time_parts(self, reps=5):
        """Seconds per step of each part replayed alone (products and updates together: STANDARD's
        input gradient shares the update's pass), and of the complete floor (every part in one
        loop). Each is the best of `reps` replays (a floor: other processes only add time) less the
        replay of no part (the call and its empty loops: the replay's own control flow, not work)."""
        def best(mask):
            return min(self.replay(mask) for _ in range(reps)) / self.n
        base = best(0)
        parts = {name: best(mask) - base for name, mask in TIMED}
        return parts, best(ALL) - base
