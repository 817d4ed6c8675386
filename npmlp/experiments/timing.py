"""Time experiments: seconds per epoch at batch 1 and 20 (EDBT Tables 3-4), against depth (Fig. 8),
cumulative over epochs (TR Figs. 11-12), and MC-APPROX over batch sizes (Figs. 10-11).

What "time" is here: the ledger's phase clock of each epoch (runner -> engine), so
    feedforward = forward phase, backpropagation = backward phase (both gradient products),
    update = the optimiser, overhead = a method's choosing (hashing, masks, sampling probabilities),
    total = forward + backward + update + overhead (evaluation excluded).
The paper's "Total" also includes what its code did outside the two phases it names (its Total is
well above Feedforward + Backpropagation), so compare its phases with ours phase by phase.
Timing runs cover a training subset in the quick profile: seconds per epoch are shown as measured and
extrapolated to the paper's 55,000-sample epoch (x 55,000 / samples), labelled as such.
Timing runs execute alone (sweep.py); a result that came from a run executed beside others says so.
"""
import os

import numpy as np

from . import figures, paper
from . import report as R
from .plans import time_plan
from .types import Experiment, Plan
from .variants import VARIANTS, train_run, variants

# "fused": the batch-1 fast path's compiled chunks (npmlp/fastpath.py), which have no split
PHASES = ("forward", "backward", "update", "overhead", "fused")
FIG8 = ("mc-approx_M", "alsh-approx_S", "standard_S", "standard_M")


def epoch_times(result):
    """[{phase: seconds, 'total': ..., 'samples': n}] per epoch of a train result."""
    s = result["summary"]
    samples = s["ledger"]["samples"] / max(s["epochs"], 1)
    out = []
    for m in result["history"]:
        e = {ph: m["seconds"].get(ph, 0.0) for ph in PHASES}
        e["total"] = sum(e.values())
        e["samples"] = samples
        out.append(e)
    return out


def _when_where(result):
    """(day or None, host) a timing run was taken on; runs stored before run records had a date
    (2026-12-01) give None."""
    run = result.get("run", {})
    day = run.get("finished_utc", "")[:10] or None
    return day, run.get("host", "?")


def when_where_line(taken):
    """One sentence naming the days and hosts of the timing runs, warning when they differ."""
    if not taken:
        return ""
    named = ", ".join(f"{day or 'date not recorded'} on {host}" for day, host in taken)
    if len(taken) == 1:
        return f"Timing runs taken {named}.\n"
    return (f"Timing runs taken {named}: seconds from different days or hosts are not "
            f"comparable (a memory-bound exact step ran ~2.4x slower on one host than on "
            f"another, bench/README.md); re-time every method in one session before comparing "
            f"methods across them.\n")


def per_55k(e, key):
    return e[key] * paper.PAPER_EPOCH_SAMPLES / e["samples"]


# ---------------------------------------------------------------- time-per-epoch

def _analyse_time(ctx, plan, results):
    tables, by_depth, cumulative, shared, loads, taken = {}, {}, {}, [], [], []
    for s, r in plan.finished(results):
        t, ep = s.tags, epoch_times(r)
        taken.append(_when_where(r))
        loads += [x for x in (r.get("run", {}).get("load_average_before"),
                              r.get("run", {}).get("load_average_after")) if x is not None]
        if not r.get("run", {}).get("exclusive", True):
            shared.append(s.label)
        d, v = t["dataset"], t["variant"]
        if t["depth"] == 3 and (v in plan.info["table3"] or v in plan.info["table4"]):
            cell = tables.setdefault(d, {}).setdefault(v, {"epochs": [], "keys": []})
            if s.key not in cell["keys"]:
                cell["keys"].append(s.key)
                cell["epochs"] += ep
        if t["repeat"] == 0 and v in plan.info["depth_variants"]:
            by_depth.setdefault(d, {}).setdefault(v, {})[str(t["depth"])] = float(
                np.mean([per_55k(e, "total") for e in ep]))
            cumulative.setdefault(d, {}).setdefault(v, {})[str(t["depth"])] = list(
                np.cumsum([e["total"] for e in ep]))
    return {**plan.info, "tables": tables, "per_epoch_55k_by_depth": by_depth,
            "cumulative": cumulative, "not_exclusive": sorted(set(shared)),
            "load_average": [min(loads), max(loads)] if loads else None,
            "taken": sorted(set(taken), key=lambda x: (x[0] or "", x[1])),
            "paper_table3": paper.TABLE3, "paper_table4": paper.TABLE4,
            "paper_table4_tr": paper.TABLE4_TR}


def _table(cells, variants, paper_table, title):
    rows = []
    for v in variants:
        eps = cells.get(v, {}).get("epochs", [])
        if not eps:
            rows.append([VARIANTS[v].label] + [None] * 7)
            continue
        pv = paper_table.get(v, {})
        fused = any(e["fused"] > 0 for e in eps)   # the fast path's compiled step: no phase split
        fmt = [R.mean_std([e[k] for e in eps]) if k == "total" or not fused else "fused"
               for k in ("total", "forward", "backward", "update", "overhead")]
        ext = R.mean_std([per_55k(e, "total") for e in eps], 1)
        pp = " / ".join("–" if k not in pv else f"{pv[k][0]:g}" for k in ("total", "forward",
                                                                           "backward"))
        rows.append([VARIANTS[v].label] + fmt + [ext, pp])
    n = int(cells[next(iter(cells))]["epochs"][0]["samples"]) if cells else 0
    head = [title, f"total (s, {n} samples)", "forward", "backward", "update", "overhead",
            "total per 55,000 samples (extrapolated)", "paper total / feedforward / backprop"]
    table = R.md_table(head, rows)
    if any(e["fused"] > 0 for v in variants for e in cells.get(v, {}).get("epochs", [])):
        table += ("\n'fused': the run took the batch-1 fast path (npmlp/fastpath.py), one compiled "
                  "step per sample with no split into phases; its total is comparable, its phases "
                  "are not measured.\n")
    return table


def _write_time(ctx, a, folder):
    out = []
    for d in a["datasets"]:
        cells = a["tables"].get(d, {})
        out.append(f"### {d}\n")
        if d != paper.TIMED_DATASET:
            out.append(f"The paper timed {paper.TIMED_DATASET} only (TR Table 4: 'on MNIST'); the "
                       f"paper columns and ratios below repeat its {paper.TIMED_DATASET} figures for "
                       f"scale, not as a {d} measurement.\n")
        out.append("Batch 1 (EDBT Table 3), seconds per epoch, mean ± std over repeats x epochs:"
                   "\n\n" + _table(cells, a["table3"], paper.TABLE3, "batch 1"))
        out.append("Batch 20 (EDBT Table 4; the tech report's Table 5 prints other values for the "
                   "same setting, e.g. STANDARD_M 20.16 s):\n\n"
                   + _table(cells, a["table4"], paper.TABLE4, "batch 20"))
        series = {}
        for v, by in a["per_epoch_55k_by_depth"].get(d, {}).items():
            depths = sorted(by, key=int)   # runs finish in any order; a line must follow depth
            series[VARIANTS[v].label] = ([int(k) for k in depths], [by[k] for k in depths])
        fig = figures.lines(folder, f"time_vs_depth_{d}.png", series, "hidden layers",
                            "seconds per 55,000 samples (extrapolated)",
                            f"{d}: training time per epoch vs depth (EDBT Fig. 8)", logy=True,
                            xticks=a["depths"])
        out.append(R.image("time-per-epoch", fig, f"time vs depth, {d}"))
        cum = a["cumulative"].get(d, {})
        panels = {}
        for k in sorted({k for by in cum.values() for k in by}, key=int):
            panels[f"{k} hidden"] = {VARIANTS[v].label: (list(range(1, len(by[k]) + 1)), by[k])
                                     for v, by in cum.items() if k in by}
        fig = figures.curve_panels(folder, f"cumulative_{d}.png", panels, "epoch",
                                   "cumulative training seconds",
                                   f"{d}: cumulative time (TR Figs. 11-12)")
        out.append(R.image("time-per-epoch", fig, f"cumulative time, {d}"))
        for name, keys, ptable in (("batch 1", a["table3"], paper.TABLE3),
                                   ("batch 20", a["table4"], paper.TABLE4)):
            out.append(_ranking(name, cells, keys, ptable))
        for v in a["table3"] + a["table4"]:
            out.append(_method_times(v, cells.get(v, {}).get("epochs", []), d))
    out.extend(R.reasons_once([(VARIANTS[v].label, VARIANTS[v].method)
                               for v in a["table3"] + a["table4"]], paper.TIMING_DIFFERENCES,
                              what="differ from the paper's (both datasets)"))
    if a["not_exclusive"]:
        out.append("Timed beside other runs (shared machine): " + ", ".join(a["not_exclusive"]))
    out.append(when_where_line([tuple(x) for x in a.get("taken", [])]))
    if a.get("load_average"):
        lo, hi = a["load_average"]
        out.append(f"1-minute load average around the timing runs: {lo:.2f}-{hi:.2f} on "
                   f"{os.cpu_count()} logical CPUs (about 1 per busy process; a timing run is one). "
                   f"Above ~1.2, other work shared the machine and the times are inflated.\n")
    out.append("Machine facts behind these times: notes/performance-facts.md (an exact batch-20 "
               "epoch cannot go below ~9 s on one core, a batch-1 epoch below ~30-40 s).\n")
    return "\n".join(out)


def _ranking(name, cells, keys, ptable):
    """The methods from fastest to slowest, ours (extrapolated totals) and the paper's."""
    ours = {v: np.mean([per_55k(e, "total") for e in cells[v]["epochs"]])
            for v in keys if cells.get(v, {}).get("epochs")}
    o = " < ".join(VARIANTS[v].label for v in sorted(ours, key=ours.get))
    p = " < ".join(VARIANTS[v].label for v in sorted(ptable, key=lambda v: ptable[v]["total"][0]))
    return f"{name}, fastest first: ours {o or '–'}; paper {p}.\n"


def _method_times(v, eps, dataset):
    """A line per variant: our phases against the paper's, as ratios (the reasons come once per
    method, after every dataset)."""
    pv = paper.TABLE3.get(v) or paper.TABLE4.get(v) or {}
    fused = any(e["fused"] > 0 for e in eps)   # the fast path: no feedforward/backprop split
    parts = []
    for ph in ("total",) if fused else ("total", "forward", "backward"):
        if eps and ph in pv:
            ours = float(np.mean([per_55k(e, ph) for e in eps]))
            parts.append(f"{ph} {ours:.1f} s vs {pv[ph][0]:g} s (x{ours / pv[ph][0]:.2f})")
    if VARIANTS[v].method in paper.NOT_IN_PAPER:
        return f"**{VARIANTS[v].label}.** {paper.NOT_IN_PAPER_TEXT}\n"
    text = "; ".join(parts) if parts else "not measured here"
    if fused and parts:
        text += " (the fused fast path: its feedforward and backprop are one compiled step, not split)"
    theirs = "paper" if dataset == paper.TIMED_DATASET else f"paper ({paper.TIMED_DATASET})"
    return f"**{VARIANTS[v].label}.** Per 55,000 samples, ours vs {theirs}: {text}.\n"


TIME_PER_EPOCH = Experiment(
    "time-per-epoch", "Training time per epoch", "EDBT Tables 3-4 (TR Tables 4-5), Fig. 8 (TR Fig. "
    "10), TR Figs. 11-12", time_plan, _analyse_time, _write_time)


# ---------------------------------------------------------------- batch-size

def _plan_batch(ctx):
    p = ctx.profile
    datasets, notes = ctx.usable_datasets(p.datasets)
    mc = variants(("mc-approx_M",))
    runs = []
    for d in datasets:
        for v in mc:
            for b in p.batch_sizes:
                spec = train_run(v, d, 3, p, batch_size=b)
                spec.exclusive = True     # its time per epoch is a result
                runs.append(spec)
    return Plan(runs, notes, {"datasets": datasets, "batch_sizes": list(p.batch_sizes)})


def _analyse_batch(ctx, plan, results):
    curves, times, acc = {}, {}, {}
    for s, r in plan.finished(results):
        d, b = s.tags["dataset"], str(s.tags["batch_size"])
        curves.setdefault(d, {})[b] = [100 * m["val_accuracy"] for m in r["history"]]
        times.setdefault(d, {})[b] = [per_55k(e, "total") for e in epoch_times(r)]
        acc.setdefault(d, {})[b] = 100 * r["summary"]["test_accuracy"]
    return {**plan.info, "val_curves": curves, "seconds_per_55k": times, "test_accuracy": acc}


def _write_batch(ctx, a, folder):
    out = [paper.FIG10_TEXT + "\n"]
    for d in a["datasets"]:
        curves = a["val_curves"].get(d, {})
        fig = figures.curve_panels(folder, f"batch_curves_{d}.png", {
            "validation accuracy": {f"batch {b}": (list(range(1, len(c) + 1)), c)
                                    for b, c in curves.items()}},
            "epoch", "validation accuracy (%)", f"{d}: MC-APPROX, lr 1e-3 (EDBT Fig. 10)")
        out.append(R.image("batch-size", fig, f"MC-APPROX batch sizes, {d}"))
        t = a["seconds_per_55k"].get(d, {})
        fig = figures.lines(folder, f"batch_time_{d}.png",
                            {"MC-APPROX": ([int(b) for b in t], [float(np.mean(x)) for x in t.values()])},
                            "batch size", "seconds per 55,000 samples (extrapolated)",
                            f"{d}: MC-APPROX time per epoch (EDBT Fig. 11)", logy=True)
        out.append(R.image("batch-size", fig, f"MC-APPROX time per batch size, {d}"))
        rows = [[b, f"{acc:.2f}", f"{np.mean(a['seconds_per_55k'][d][b]):.1f}"]
                for b, acc in a["test_accuracy"].get(d, {}).items()]
        out.append(R.md_table(["batch size", "test accuracy (%)", "s per 55,000 samples"], rows))
    return "\n".join(out)


BATCH_SIZE = Experiment("batch-size", "MC-APPROX over batch sizes", "EDBT Figs. 10-11 (TR Figs. 13-14)",
                        _plan_batch, _analyse_batch, _write_batch)
