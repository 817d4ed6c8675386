"""A run measured from a process of its own: `python -m npmlp.experiments.probe MODE --config FILE`.

Memory (ru_maxrss, resident set) and cache counters belong to a process, so each measured run gets a
fresh one, whatever executes the sweep (a pool worker or a Dask worker runs many runs in one process).

    memory   train the config for its epochs; record resident memory (current RSS from
             /proc/self/statm, peak from ru_maxrss) after start-up, after loading the data, after
             compiling the kernels, after building the training state (ALSH's tables live there), at
             every epoch end and at the end. Set-up = resident size after building the state minus
             before it; growth = the largest resident size after set-up minus that after set-up.
    steps    take exactly --steps training steps (no evaluation, no kernel warm-up: kernels load at
             first use) and report the ledger's work; run under valgrind or perf by cache_tools.py,
             which subtracts a shorter run's counts from a longer one's to cancel start-up.
The result is JSON written to --out.
"""
import argparse
import json
import os
import resource
import sys


def rss_bytes():
    """Current resident set size (Linux /proc/self/statm), or None elsewhere."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def peak_rss_bytes():
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024   # Linux: KiB


def probe_memory(cfg, progress=False):
    stages = []

    def mark(stage):
        stages.append({"stage": stage, "rss": rss_bytes(), "peak_rss": peak_rss_bytes()})

    from .. import engine
    from ..runner import build_state, load_data
    from ..threads import set_threads
    mark("start-up (interpreter, numpy, npmlp)")
    set_threads(cfg.threads)
    data = load_data(cfg, progress=False)
    mark("data loaded")
    import kernels
    kernels.warmup()
    mark("kernels compiled or loaded")
    ts = build_state(cfg, data)
    mark("training state built")

    def on_epoch_end(ts, metrics):
        mark(f"epoch {ts.epoch}")

    def on_interrupt(ts):
        raise KeyboardInterrupt
    engine.fit(ts, cfg, data, on_epoch_end, on_interrupt, progress=progress)
    mark("end")
    # ru_maxrss is a high-water mark, and loading the kernels usually sets it: set-up and growth are
    # read from the current resident size instead (at each stage, and the largest after set-up).
    built = stages[3]["rss"]
    after = max(s["rss"] for s in stages[3:])
    return {"stages": stages, "peak_rss": stages[-1]["peak_rss"],
            "setup_bytes": built - stages[2]["rss"], "growth_bytes": after - built,
            "ledger": ts.ledger.snapshot()}


def probe_steps(cfg, steps):
    from .. import engine
    from ..runner import build_state, load_data
    from ..threads import set_threads
    set_threads(cfg.threads)
    data = load_data(cfg, progress=False)
    ts = build_state(cfg, data)
    X, y = data.train.X, data.train.y
    n = X.shape[0]
    ts.strategy.start_epoch(0, n)
    perm = ts.rng.permutation(n)
    b = cfg.batch_size
    for i in range(steps):   # the engine's own step, on batches in a seeded order
        start = (i * b) % max(n - b + 1, 1)
        idx = perm[start:start + b]
        engine.train_step(ts, X[idx], y[idx])
    work = {ph: {k: v[k] for k in ("macs", "bytes_read", "bytes_written")}
            for ph, v in ts.ledger.snapshot()["phases"].items()}
    return {"steps": steps, "work": work,
            "bytes": int(sum(w["bytes_read"] + w["bytes_written"] for w in work.values())),
            "macs": int(sum(w["macs"] for w in work.values())), "rss_end": rss_bytes()}


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m npmlp.experiments.probe", description=__doc__)
    ap.add_argument("mode", choices=("memory", "steps"))
    ap.add_argument("--config", required=True, help="a config.json (Config.to_json())")
    ap.add_argument("--steps", type=int, default=0)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    from ..config import Config
    with open(args.config) as f:
        cfg = Config.from_json(json.load(f))
    result = probe_memory(cfg) if args.mode == "memory" else probe_steps(cfg, args.steps)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
