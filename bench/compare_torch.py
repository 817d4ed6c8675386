"""npmlp against PyTorch on the CPU, side by side: same network, data, sample order, initial weights,
batch size, optimiser, learning rate and thread count, timed in alternating windows in one process.

Needs the optional extra: pip install torch==2.13.0   (the CPU build; `pip install .[torch]`)

Run from the repository root:
    python bench/compare_torch.py                                  # batch 20, SGD, 1 thread, 3 launches
    python bench/compare_torch.py --batch 20 1 --optimizer sgd adam --threads 1 2 --json cmp.json

Per configuration and launch (a fresh process; `--repeats N` of them):
 1. Equivalence check in float64: both trainers start from npmlp's initial weights (PyTorch's Linear
    stores weight as (out, in), exactly like npmlp's W, so it is a plain copy) and take
    `--check-steps` steps on the same batches; the largest parameter difference must be <= 1e-10,
    so the timed comparison is of the same computation. A failure ends the run with exit code 1.
 2. Timing in float32: after `--warmup-steps` untimed steps each, windows alternate (npmlp window,
    torch window, npmlp window, ...) for `--pairs` pairs, so drift of the shared machine hits both.
    Each side trains its own copy on its own identical stream of batches; the batch gather is inside
    both windows, as in a real epoch loop. PyTorch runs with its defaults (nll_loss(log_softmax),
    optim.SGD / optim.Adam, loss.item() every step, as npmlp's loop also reads the loss).
Printed: each pair's seconds per epoch (EXTRAPOLATED: window s / steps x steps per epoch) and the
speed-up = torch time / npmlp time (> 1: npmlp is faster), then the median (min-max) over all pairs.
"""
import argparse
import itertools
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as C  # noqa: E402

INSTALL_HINT = ("PyTorch is not installed; this comparison needs it. Install the CPU build with\n"
                "    pip install torch==2.13.0\n(or `pip install .[torch]` from the repository root), "
                "then run this script again.")
EQUIVALENCE_TOL = 1e-10


# ------------------------------------------------------------------ the PyTorch twin

def torch_twin(params, cfg):
    """nn.Sequential of Linear + ReLU holding a copy of npmlp's parameters, and its optimiser."""
    import torch
    tdtype = {"float32": torch.float32, "float64": torch.float64}[cfg.dtype]
    layers = []
    for l, p in enumerate(params):
        d_out, d_in = p.W.shape
        lin = torch.nn.Linear(d_in, d_out, dtype=tdtype)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(p.W))  # both (D_out, D_in): no transpose
            lin.bias.copy_(torch.from_numpy(p.b))
        layers.append(lin)
        if l < len(params) - 1:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps)
    return model, opt


def torch_window(model, opt, Xt, yt, stream, steps):
    """`steps` PyTorch training steps on the stream's batches; wall seconds."""
    import time

    import torch
    import torch.nn.functional as F
    t0 = time.perf_counter()
    for _ in range(steps):
        idx = torch.from_numpy(stream.next())
        xb, yb = Xt[idx], yt[idx]
        opt.zero_grad()
        loss = F.nll_loss(F.log_softmax(model(xb), dim=1), yb)  # the same fused loss as npmlp's
        loss.backward()
        opt.step()
        loss.item()
    return time.perf_counter() - t0


def torch_params(model):
    lins = [m for m in model if hasattr(m, "weight")]
    return [(m.weight.detach().numpy(), m.bias.detach().numpy()) for m in lins]


# ------------------------------------------------------------------ one configuration

def equivalence_check(data, batch, threads, optimizer, args):
    """Both trainers, float64, `args.check_steps` steps from one init; the max parameter difference."""
    import torch
    keep = min(data.train.X.shape[0], max(1000, args.check_steps * batch))  # enough for the check
    data64 = data._replace(train=C.Split(data.train.X[:keep].astype(np.float64), data.train.y[:keep]))
    cfg = C.make_config(optimizer, batch, threads, lr=args.lr, eps=args.eps, hidden=args.hidden,
                        dtype="float64")
    ts = C.prepare(cfg, data64)
    torch.set_num_threads(threads)
    model, opt = torch_twin(ts.params, cfg)       # copied before npmlp's first step
    X, y = data64.train.X, data64.train.y
    n = X.shape[0]
    C.npmlp_window(ts, X, y, C.SampleStream(n, batch, cfg.seed), args.check_steps)
    torch_window(model, opt, torch.from_numpy(X), torch.from_numpy(y),
                 C.SampleStream(n, batch, cfg.seed), args.check_steps)
    diff = 0.0
    for p, (tw, tb) in zip(ts.params, torch_params(model)):
        diff = max(diff, float(np.abs(p.W - tw).max()), float(np.abs(p.b - tb).max()))
    return diff


def compare_config(data, batch, threads, optimizer, args):
    import torch
    max_diff = equivalence_check(data, batch, threads, optimizer, args)
    out = {"batch": batch, "threads": threads, "optimizer": optimizer, "check_steps": args.check_steps,
           "max_param_diff_float64": max_diff, "equivalent": max_diff <= EQUIVALENCE_TOL}
    if not out["equivalent"]:
        return out
    cfg = C.make_config(optimizer, batch, threads, lr=args.lr, eps=args.eps, hidden=args.hidden)
    ts = C.prepare(cfg, data)
    torch.set_num_threads(threads)
    model, opt = torch_twin(ts.params, cfg)
    X, y = data.train.X, data.train.y
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    n = X.shape[0]
    steps = args.steps or (2000 if batch == 1 else max(1, n // (5 * batch)))
    warm = args.warmup_steps if args.warmup_steps >= 0 else max(10, steps // 20)
    s_np, s_t = C.SampleStream(n, batch, cfg.seed), C.SampleStream(n, batch, cfg.seed)
    C.npmlp_window(ts, X, y, s_np, warm)
    torch_window(model, opt, Xt, yt, s_t, warm)
    scale = (n // batch) / steps  # window -> one epoch (extrapolation)
    pairs = []
    for _ in range(args.pairs):
        t_np = C.npmlp_window(ts, X, y, s_np, steps)[0]
        t_torch = torch_window(model, opt, Xt, yt, s_t, steps)
        pairs.append({"npmlp_s_epoch": t_np * scale, "torch_s_epoch": t_torch * scale,
                      "speedup": t_torch / t_np})
    out.update(lr=cfg.lr, eps=cfg.eps, steps=steps, warmup_steps=warm, steps_per_epoch=n // batch,
               pairs=pairs, load_average=C.machine_load(), torch_threads=torch.get_num_threads())
    return out


def run_launch(args):
    import torch
    data = C.load_bench_data(args.data, args.samples)
    results = [compare_config(data, b, t, o, args)
               for b, t, o in itertools.product(args.batch, args.threads, args.optimizer)]
    return {"data": data.source, "n_train": int(data.train.X.shape[0]),
            "torch": torch.__version__, "results": results}


# ------------------------------------------------------------------ report

def print_report(launches, args):
    net = "-".join(map(str, (784, *args.hidden, 10)))
    print(f"\nSTANDARD {net} ReLU float32, data: {launches[0]['data']}, torch "
          f"{launches[0]['torch']}; s/epoch EXTRAPOLATED from windows (window s / steps x steps "
          f"per epoch); speed-up = torch s / npmlp s (> 1: npmlp faster)")
    ok = True
    for i, first in enumerate(launches[0]["results"]):
        runs = [launch["results"][i] for launch in launches]
        head = f"batch {first['batch']} {first['optimizer']} {first['threads']} thread(s)"
        diffs = [r["max_param_diff_float64"] for r in runs]
        if not all(r["equivalent"] for r in runs):
            print(f"{head}: NOT THE SAME COMPUTATION: after {first['check_steps']} float64 steps the "
                  f"parameters differ by up to {max(diffs):.3g} (> {EQUIVALENCE_TOL:g}); not timed")
            ok = False
            continue
        print(f"\n{head}, lr {first['lr']:g}, eps {first['eps']:g}, {first['steps']} steps/window; "
              f"float64 check over {first['check_steps']} steps: max |param diff| {max(diffs):.2g}")
        for k, r in enumerate(runs):
            cells = "  ".join(f"{p['npmlp_s_epoch']:.2f}/{p['torch_s_epoch']:.2f}={p['speedup']:.2f}x"
                              for p in r["pairs"])
            print(f"  launch {k + 1} (load {r['load_average']:.1f}) npmlp/torch s/epoch=speed-up: {cells}")
        every = [p for r in runs for p in r["pairs"]]
        per_launch = [float(np.median([p["speedup"] for p in r["pairs"]])) for r in runs]
        print(f"  npmlp s/epoch {C.fmt_range([p['npmlp_s_epoch'] for p in every], 2)}   "
              f"torch s/epoch {C.fmt_range([p['torch_s_epoch'] for p in every], 2)}")
        speedups = C.fmt_range([p["speedup"] for p in every], 2)
        print(f"  speed-up: median over all {len(every)} pairs {speedups}; "
              f"launch medians {C.fmt_range(per_launch, 2)}")
    return ok


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, nargs="+", default=[20])
    p.add_argument("--threads", type=int, nargs="+", default=[1])
    p.add_argument("--optimizer", nargs="+", default=["sgd"], choices=["sgd", "adam"])
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: sgd 0.01, adam 1e-3)")
    p.add_argument("--eps", type=float, default=1e-8, help="Adam epsilon, the same on both sides")
    p.add_argument("--data", default="mnist", choices=["mnist", "random"])
    p.add_argument("--samples", type=int, default=0, help="use only this many training samples (0 = all)")
    p.add_argument("--hidden", type=C.parse_hidden, default=C.PAPER_HIDDEN)
    p.add_argument("--pairs", type=int, default=4, help="alternating (npmlp, torch) window pairs")
    p.add_argument("--steps", type=int, default=0,
                   help="steps per window (0 = a fifth of an epoch; 2,000 at batch 1)")
    p.add_argument("--warmup-steps", type=int, default=-1, help="-1 = max(10, steps / 20)")
    p.add_argument("--check-steps", type=int, default=3, help="float64 equivalence steps")
    p.add_argument("--repeats", type=int, default=3, help="process launches")
    p.add_argument("--json", help="write every launch's raw numbers here")
    p.add_argument("--child-out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if min(args.batch) < 1 or min(args.threads) < 1 or min(args.pairs, args.repeats, args.check_steps) < 1:
        p.error("--batch, --threads, --pairs, --repeats and --check-steps must be >= 1")
    return args


def child_argv(args):
    return C.relaunch_argv(__file__, args, ("data", "samples", "hidden", "pairs", "steps",
                                            "warmup_steps", "check_steps", "eps"))


def main(argv=None):
    args = parse_args(argv)
    try:
        import torch  # noqa: F401
    except ImportError:
        print(INSTALL_HINT, file=sys.stderr)
        return 2
    launches, rc = C.child_or_launches(args, run_launch, child_argv(args))
    if launches is None:
        return rc
    ok = print_report(launches, args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"command": sys.argv, "cpu_count": os.cpu_count(), "launches": launches}, f, indent=1)
        print(f"wrote {args.json}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
