"""Memory and cache behaviour per method (EDBT §9.4).

memory: each method's run trains in a fresh process (probe.py), so ru_maxrss is that run's alone;
    reported: resident memory after start-up, the set-up (building the training state: parameters,
    optimiser state, ALSH's hash tables), the peak, and the growth from the end of set-up to the end
    of training, with the resident curve over epochs.
cache: per method, the miss counts of a bounded number of training steps (cache_tools.py: perf
    counters where readable, else cachegrind's simulation), per step, beside the bytes the ledger
    says those steps must move. LL misses x 64 B is the traffic the caches let through to memory.
Both use 3 hidden layers of the profile's width, each method in its paper setting (variants.py).
"""
import json
import os

from . import cache_tools, figures, paper
from . import report as R
from .types import Experiment, Plan
from .runstore import RunSpec
from .variants import VARIANTS, make_config, variants

MB = 1024 * 1024


def _write_config(spec, folder):
    path = os.path.join(folder, "probe-config.json")
    with open(path, "w") as f:
        json.dump(spec["config"], f)
    return path


def memory_run(spec, folder, progress=False, log=print):
    """kind "memory": probe.py memory in a child process; its JSON."""
    import subprocess
    cfg_path = _write_config(spec, folder)
    out = os.path.join(folder, "memory.json")
    cmd = cache_tools.probe_command("memory", cfg_path, out)
    env = dict(cache_tools._env())
    for k in cache_tools.GENERIC_NUMBA:     # a native run: the native kernels
        env.pop(k, None)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    log(proc.stderr[-4000:])
    if proc.returncode != 0:
        raise RuntimeError(f"memory probe failed:\n{proc.stderr[-2000:]}")
    with open(out) as f:
        return json.load(f)


def cache_run(spec, folder, progress=False, log=print):
    """kind "cache-profile": per-step counts of steps n1+1..n2 and the ledger's bytes for them."""
    tool = spec["params"]["tool"]
    n1, n2 = spec["params"]["steps"]
    cfg_path = _write_config(spec, folder)
    if tool == "cachegrind":
        cache_tools.compile_natively(cfg_path, n2, folder)
    short, short_json = cache_tools.run_counted(tool, cfg_path, n1, folder, f"{n1}steps")
    long, long_json = cache_tools.run_counted(tool, cfg_path, n2, folder, f"{n2}steps")
    per_step = cache_tools.difference(long, short, n2 - n1)
    with open(short_json) as f:
        a = json.load(f)
    with open(long_json) as f:
        b = json.load(f)
    ledger_bytes = (b["bytes"] - a["bytes"]) / (n2 - n1)
    ledger_macs = (b["macs"] - a["macs"]) / (n2 - n1)
    return {"tool": tool, "steps": [n1, n2], "per_step": per_step, "short_run": short,
            "rates": cache_tools.rates(per_step, tool), "ledger_bytes_per_step": ledger_bytes,
            "ledger_macs_per_step": ledger_macs, "geometry": cache_tools.cache_geometry()}


def _plan(ctx):
    p = ctx.profile
    datasets, notes = ctx.usable_datasets(p.datasets)
    profiled = variants(p.memory_variants)
    tool, why = (cache_tools.choose_tool() if p.cache_enabled else
                 (None, f"the {p.name} profile skips the cache profile (valgrind's start-up alone "
                        f"takes minutes); use --profile quick"))
    runs = []
    for d in datasets[:1]:      # one dataset: memory and cache depend on the network, not the data
        for v in profiled:
            cfg = make_config(v, d, 3, p.width, p.memory_epochs, p.memory_limit)
            runs.append(RunSpec("memory", cfg.to_json(), {}, label=f"{v.label} memory",
                                tags={"variant": v.key, "dataset": d}))
            if tool is not None:
                ccfg = make_config(v, d, 3, p.width, 1, p.cache_limit)
                runs.append(RunSpec("cache-profile", ccfg.to_json(),
                                    {"steps": list(p.cache_steps), "tool": tool},
                                    exclusive=tool == "perf", label=f"{v.label} {tool}",
                                    tags={"variant": v.key, "dataset": d}))
    if tool is None:
        notes.append(f"cache profile skipped: {why}")
    elif why:
        notes.append(f"cache profile by cachegrind simulation: {why}")
    return Plan(runs, notes, {"datasets": datasets[:1], "variants": [v.key for v in profiled],
                              "tool": tool, "cache_steps": list(p.cache_steps)})


def _analyse(ctx, plan, results):
    memory, cache = {}, {}
    for s, r in plan.finished(results, needs=None):
        (memory if s.kind == "memory" else cache)[s.tags["variant"]] = r
    return {**plan.info, "memory": memory, "cache": cache, "paper_memory": paper.MEMORY,
            "paper_cache": paper.CACHE_TEXT}


def _write(ctx, a, folder):
    out = ["Memory (MB = 2^20 bytes), each run in a process of its own:\n"]
    rows, curves = [], {}
    for v in a["variants"]:
        m = a["memory"].get(v)
        if m is None:
            continue
        st = m["stages"]
        rows.append([VARIANTS[v].label, f"{st[2]['peak_rss'] / MB:.1f}", f"{m['setup_bytes'] / MB:.1f}",
                     f"{m['peak_rss'] / MB:.1f}", f"{m['growth_bytes'] / MB:.1f}",
                     paper.MEMORY.get(v)])
        ep = [s for s in st if s["stage"].startswith("epoch")]
        curves[VARIANTS[v].label] = (list(range(1, len(ep) + 1)), [s["rss"] / MB for s in ep])
    out.append(R.md_table(["method", "after data and kernels", "set-up (state, tables)", "peak",
                           "growth during training", "paper (EDBT §9.4)"], rows))
    if curves:
        fig = figures.lines(folder, "rss_per_epoch.png", curves, "epoch", "resident memory (MB)",
                            "resident memory at each epoch end")
        out.append(R.image("memory-and-cache", fig, "resident memory per epoch"))
    if a["cache"]:
        tool = a["tool"]
        out.append(f"Cache profile by {tool}, per training step (steps {a['cache_steps'][0] + 1}-"
                   f"{a['cache_steps'][1]} of a run); for cachegrind, L1 = simulated L1d, LL = "
                   f"simulated last level, miss rates over data accesses:\n")
        base = a["cache"].get("mc-approx_M") or a["cache"].get("standard_M")
        rows = []
        for v in a["variants"]:
            c = a["cache"].get(v)
            if c is None:
                continue
            r = c["rates"]
            rel = (f"{100 * (r['ll_misses'] / base['rates']['ll_misses'] - 1):+.0f}%"
                   if base and base["rates"]["ll_misses"] > 0 and r["ll_misses"] >= 0 else None)
            rows.append([VARIANTS[v].label, _count(r["instructions"] / 1e6, 1),
                         _count(r["data_refs"] / 1e6, 2), _rate(r["d1_miss_rate"]),
                         _rate(r["ll_miss_rate"]), _count(r["ll_misses"] * 64 / MB, 2),
                         f"{c['ledger_bytes_per_step'] / MB:.2f}", rel])
        ref = "MC-APPROX_M" if a["cache"].get("mc-approx_M") else "STANDARD_M"
        out.append(R.md_table(["method", "instructions (M)", "data accesses (M)", "L1 miss rate",
                               "LL miss rate", "LL misses x 64 B (MB)", "ledger bytes (MB)",
                               f"LL misses vs {ref}"], rows))
        out.append(paper.CACHE_TEXT + "\n")
        if tool == "cachegrind":
            out.append("Simulated, not counted: valgrind runs OpenBLAS's AVX2 kernels and Numba's "
                       "generic-x86-64 code (it cannot execute AVX-512), cache_tools.py. Counts are "
                       "a difference of two runs; '< noise' marks one their start-ups blurred.\n")
    return "\n".join(out)


def _rate(x):
    return None if x is None else (f"{100 * x:.2f}%" if x >= 0 else "< noise")


def _count(x, digits):
    """A per-step count; negative means the two runs' start-ups differed by more than the steps
    added (other processes rewriting Numba's cache or .pyc files between them): not resolved."""
    return f"{x:.{digits}f}" if x >= 0 else "< noise"


EXPERIMENT = Experiment("memory-and-cache", "Memory and cache behaviour", "EDBT §9.4",
                        _plan, _analyse, _write)
