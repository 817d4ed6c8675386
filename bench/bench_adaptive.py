"""Where a fused ADAPTIVE-DROPOUT step's time goes (batch 1, kernels/fused_adaptive.py).

A window of fused steps is recorded (the kept units, the non-zero inputs of every layer, every hidden
unit's z and the beta each calibration started from), then its parts are replayed alone, each in one
compiled loop, and timed in rounds interleaved with the fused windows themselves:

    forward-all   every unit's z of every layer: layer 1 dense (784 x D_out), deeper layers D_out x J
                  over the recorded non-zero inputs (the product the method needs by design)
    calibration   kernels/standout.py:standout_keep on each hidden layer's recorded z, from the
                  recorded warm start (the same Newton steps the step took)
    kept floor    bench/_floor.py's complete DROPOUT floor on the recorded kept sets: the kept
                  units' products (their forward once more: K x J, small), input gradients, weight
                  and bias updates, ReLU/scatter, the loss, a u < p pass over the uniforms
    both, per step   forward-all and kept floor alternating step by step on the same weights, as
                  the step runs them: the forward's ~7 MB per step evicts the kept rows' W, m and v
                  between their forward and their update, which the separate replays do not see
    beyond        step - (both, per step) - calibration: the draws, the control flow between the
                  kernels, Python

    python bench/bench_adaptive.py --rounds 3 --steps 1000
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import SampleStream, fast_window, load_bench_data, machine_load  # noqa: E402
from _floor import ALL, Floor, floor_window, record  # noqa: E402

from kernels import active_forward as KF  # noqa: E402
from kernels import fused_step as KS  # noqa: E402
from kernels import standout as KSO  # noqa: E402
from kernels._jit import jit  # noqa: E402


@jit
def forward_all(X, order, xi, Ws, bs, allrows, xv, z):
    """Every unit's z of every layer for the recorded steps (input values are placeholders)."""
    for s in range(order.shape[0]):
        for l in range(len(Ws)):
            W = Ws[l]
            if l == 0:
                KF.active_forward_1(X[order[s]], W, bs[l], allrows[l], z[l][:W.shape[0]])
            else:
                J = xi[s, l, 0]
                KF.sparse_forward_1(xv[:J], xi[s, l, 1:J + 1], W, bs[l], allrows[l],
                                    z[l][:W.shape[0]])


@jit
def calibrate_all(zrec, widths, betas, alpha, target, u, keep, beta1, f1, work):
    """standout_keep per step and hidden layer, on the recorded z from the recorded warm start
    (zrec (n, H, D_max), layer l's z in its first widths[l] entries)."""
    n, H, _ = zrec.shape
    c = np.ones(1)
    for s in range(n):
        for l in range(H):
            D = widths[l]
            for j in range(D):
                u[j] = alpha * np.float64(zrec[s, l, j])
            KSO.standout_keep(u[:D].reshape((1, D)), c, target, betas[s, l], beta1,
                              keep[:D].reshape((1, D)), f1, work)


@jit
def both_per_step(xv, z, parts, method, opt, sparse_state, mu, X, Y, order, idx, K, xi, xi32, u, p,
                  scale, lsh, pool_u, cursor, pool_next, Ws, bs, bs2, S1, S2, S1b, S2b, trows, pow1,
                  pow2, lr, allrows, xvs, xin, zs, dzs, dxs, dxvs, pos, step, corr, scratch,
                  bscratch, work, sel_idx, acts, nvs, nis):
    """forward_all and the kept floor (_floor.floor_window's arguments after xv, z) of step s, then
    of step s + 1, ..."""
    for s in range(order.shape[0]):
        o, ks, x = order[s:s + 1], K[s:s + 1], xi[s:s + 1]
        forward_all(X, o, x, Ws, bs, allrows, xv, z)
        floor_window(parts, method, opt, sparse_state, mu, X, Y, o, idx[s:s + 1], ks, x,
                     xi32[s:s + 1], u[s:s + 1], p, scale, lsh, pool_u, cursor, pool_next, Ws, bs,
                     bs2, S1, S2, S1b, S2b, trows, pow1, pow2, lr, allrows, xvs, xin, zs, dzs, dxs,
                     dxvs, pos, step, corr, scratch, bscratch, work, sel_idx, acts, nvs, nis)


def record_adaptive(runner, ts, X, y, order):
    """_floor.record's sets, plus each step's hidden z (n, H, D_max) and starting betas (n, H)."""
    zs, betas = [], []
    run = runner.run

    def run_keeping_z(*args):
        beta = ts.strategy.beta[:-1].copy()
        done = run(*args)
        if done:
            hidden = list(runner.ws["z_all"])[:-1]
            z = np.zeros((len(hidden), max(h.shape[0] for h in hidden)), hidden[0].dtype)
            for l, h in enumerate(hidden):
                z[l, :h.shape[0]] = h
            zs.append(z)
            betas.append(beta)
        return done
    runner.run = run_keeping_z
    try:
        sets = record(runner, ts, X, y, order)
    finally:
        del runner.run
    return sets, np.array(zs), np.array(betas)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--optimizer", default="adam")
    ap.add_argument("--data", default="mnist", choices=("mnist", "random"))
    ap.add_argument("--samples", type=int, default=0, help="training samples to load (0 = all)")
    ap.add_argument("--hidden", default="1000,1000,1000")
    args = ap.parse_args()
    import kernels
    from npmlp import fastpath
    from npmlp.config import Config, validate
    from npmlp.runner import build_state
    from npmlp.strategies import STRATEGIES
    kernels.warmup(("update", "active_forward", "active_backward", "fused_loss", "standout",
                    "fused_adaptive"))
    data = load_bench_data(args.data, args.samples)
    X, y = data.train.X, data.train.y
    cfg = validate(Config(method="adaptive-dropout", batch_size=1, optimizer=args.optimizer,
                          lr=1e-3, lr_schedule="constant",
                          hidden=tuple(int(h) for h in args.hidden.split(","))), tuple(STRATEGIES))
    ts = build_state(cfg, data)
    runner = fastpath.make_runner(ts, cfg)
    stream = SampleStream(len(y), 1, seed=1)
    fast_window(ts, runner, X, y, stream, 50)
    order = np.concatenate([stream.next() for _ in range(args.steps)]).astype(np.int64)
    sets, zrec, brec = record_adaptive(runner, ts, X, y, order)
    steps, idx, K, xi = sets[:4]
    Xc = runner._inputs(X)
    floor = Floor(runner, ts, X, y, order, sets=sets, method=KS.DROPOUT)   # the kept units' step
    fa = floor.args
    dt, D = runner.dtype, zrec.shape[2]
    widths = np.array([p.W.shape[0] for p in ts.params[:-1]], np.int64)
    fwd = dict(X=Xc, order=steps, xi=xi, Ws=fa["Ws"], bs=fa["bs"], allrows=fa["allrows"],
               xv=np.full(max(p.W.shape[1] for p in ts.params), 0.5, dt),
               z=KS.as_list(np.zeros(p.W.shape[0], dt) for p in ts.params))
    cal = dict(zrec=zrec, widths=widths, betas=brec, alpha=float(cfg.standout_alpha),
               target=float(cfg.standout_target_keep), u=np.zeros(D), keep=np.zeros(D),
               beta1=np.zeros(1), f1=np.zeros(1), work=np.zeros(D))
    parts = {"forward-all": (forward_all, lambda: fwd), "calibration": (calibrate_all, lambda: cal),
             "kept floor": (floor_window, lambda: {"parts": ALL, **floor.restore()}),
             "both, per step": (both_per_step, lambda: {"parts": ALL, **floor.restore(),
                                                        "xv": fwd["xv"], "z": fwd["z"]})}
    for fn, kw in parts.values():          # compile outside the clock
        fn(**kw())
    n = steps.shape[0]
    rows = {k: [] for k in ("step", *parts)}
    for r in range(args.rounds):
        wall, _, _, _ = fast_window(ts, runner, X, y, stream, args.steps)
        rows["step"].append(wall / args.steps * 1e6)
        for name, (fn, kw) in parts.items():
            kwargs = kw()                  # the floor's arrays reset outside the clock
            t0 = time.perf_counter()
            fn(**kwargs)
            rows[name].append((time.perf_counter() - t0) / n * 1e6)
        print(f"round {r + 1}/{args.rounds} done (load average {machine_load():.1f})", flush=True)
    med = {k: float(np.median(v)) for k, v in rows.items()}
    beyond = med["step"] - med["both, per step"] - med["calibration"]
    sizes = "-".join(str(d) for d in (ts.params[0].W.shape[1], *(p.W.shape[0] for p in ts.params)))
    print(f"\nADAPTIVE-DROPOUT fused step, batch 1, {args.optimizer}, {args.data} {sizes}, "
          f"{cfg.dtype}, {args.steps} steps x {args.rounds} rounds ({n} recorded), load average "
          f"{machine_load():.1f}")
    print(f"mean kept per hidden layer {K[:, :-1].mean(axis=0).round(1).tolist()}, mean non-zero "
          f"inputs of layers 2.. {xi[:, 1:, 0].mean(axis=0).round(1).tolist()}\n")
    print("| part | us/step median (min-max) | share of the step |")
    print("|---|---|---|")
    for k, v in rows.items():
        print(f"| {k} | {med[k]:.0f} ({min(v):.0f}-{max(v):.0f}) | {med[k] / med['step']:.0%} |")
    print(f"| beyond = step - both - calibration (draws, control flow, Python) | {beyond:.0f} | "
          f"{beyond / med['step']:.0%} |")


if __name__ == "__main__":
    main()
