"""Which method to use (EDBT §10.4, TR Fig. 16), regenerated from our own measurements.

The paper's criterion (§10.4): a method is worth using in a setting when it is faster than STANDARD in
that setting and its accuracy is nearly STANDARD's. We apply it to the depth grid's accuracies and the
timing runs' seconds per epoch:
    settings      mini-batch (20); SGD (batch 1) with at most 4 hidden layers; SGD deeper than 4
    for each sampling method measured in a setting, over the setting's depths:
        accuracy gap = mean(test accuracy - STANDARD's), in points
        time ratio   = mean(seconds per epoch / STANDARD's)
    recommended: the fastest method with time ratio < 1 and accuracy gap >= -TOLERANCE;
                 none: STANDARD (no sampling method pays off there: the paper's "open problem").
The paper's SGD branch also asks whether many CPU cores are available (ALSH-APPROX's parallelism);
every run here is single-threaded, so our tree answers for one core. TOPK (not in the paper) is a
batch-1 candidate beside the paper's; the paper's tree has no branch for it.
"""
import numpy as np

from . import figures, paper
from . import report as R
from .plans import depth_grid_plan, time_plan
from .timing import epoch_times, per_55k
from .types import Experiment, Plan
from .variants import VARIANTS

TOLERANCE = 1.0   # accuracy points a method may lose against STANDARD and still count as "nearly"
SETTINGS = (("mini-batch (20)", "standard_M", ("mc-approx_M",), lambda k: True),
            ("SGD, <= 4 hidden layers", "standard_S",
             ("alsh-approx_S", "dropout_S", "adaptive-dropout_S", "topk_S"), lambda k: k <= 4),
            ("SGD, > 4 hidden layers", "standard_S",
             ("alsh-approx_S", "dropout_S", "adaptive-dropout_S", "topk_S"), lambda k: k > 4))


def _plan(ctx):
    acc, timing = depth_grid_plan(ctx), time_plan(ctx)
    notes = list(dict.fromkeys(acc.notes + timing.notes))
    return Plan(acc.runs + timing.runs, notes, {"datasets": acc.info["datasets"],
                                                "depths": acc.info["depths"]})


def _measures(plan, results):
    """{dataset: {variant: {depth: {'accuracy': %, 'seconds': s per 55k}}}}."""
    out = {}
    for s, r in plan.finished(results):
        t = s.tags
        cell = out.setdefault(t["dataset"], {}).setdefault(t["variant"], {}).setdefault(t["depth"], {})
        if s.exclusive:
            if t["repeat"] == 0:
                cell["seconds"] = float(np.mean([per_55k(e, "total") for e in epoch_times(r)]))
        else:
            cell["accuracy"] = 100 * r["summary"]["test_accuracy"]
    return out


def decide(measures, tolerance=TOLERANCE):
    """The tree for one dataset: [{setting, depths, candidates: {...}, recommended}]."""
    rows = []
    for name, base, candidates, in_setting in SETTINGS:
        entry = {"setting": name, "baseline": base, "depths": [], "candidates": {}}
        for v in candidates:
            gaps, ratios, used = [], [], []
            for k in sorted(measures.get(base, {})):
                b, c = measures[base][k], measures.get(v, {}).get(k, {})
                if in_setting(k) and all(m in x for m in ("accuracy", "seconds") for x in (b, c)):
                    gaps.append(c["accuracy"] - b["accuracy"])
                    ratios.append(c["seconds"] / b["seconds"])
                    used.append(k)
            if used:
                entry["candidates"][v] = {"accuracy_gap": float(np.mean(gaps)),
                                          "time_ratio": float(np.mean(ratios)), "depths": used}
                entry["depths"] = sorted(set(entry["depths"]) | set(used))
        depths = entry["depths"]
        ok = {v: m for v, m in entry["candidates"].items()
              if m["time_ratio"] < 1 and m["accuracy_gap"] >= -tolerance}
        entry["recommended"] = (min(ok, key=lambda v: ok[v]["time_ratio"]) if ok else
                                (base if depths else None))
        rows.append(entry)
    return rows


def _analyse(ctx, plan, results):
    m = _measures(plan, results)
    return {**plan.info, "tolerance": TOLERANCE,
            "trees": {d: decide(m.get(d, {})) for d in plan.info["datasets"]},
            "paper": [list(x) for x in paper.DECISION_TREE]}


def _label(v):
    return "not measured" if v is None else VARIANTS[v].label


def _write(ctx, a, folder):
    out = [f"Criterion: faster than STANDARD in the setting, and at most {a['tolerance']:g} accuracy "
           f"point(s) below it (EDBT §10.4). Single-threaded runs.\n",
           R.scale_caveat(ctx.profile).replace("Every gap to the paper below includes that",
                                               "Short training widens every accuracy gap below")]
    for d, tree in a["trees"].items():
        rows = []
        for entry, (_, paper_pick) in zip(tree, a["paper"]):
            ev = "; ".join(f"{VARIANTS[v].label}: {m['accuracy_gap']:+.2f} points, "
                           f"x{m['time_ratio']:.2f} time" for v, m in entry["candidates"].items())
            ev = ev or "–"
            rows.append([entry["setting"], ", ".join(map(str, entry["depths"])) or "–",
                         paper_pick, _label(entry["recommended"]), ev])
        out.append(f"### {d}\n\n" + R.md_table(
            ["setting", "hidden layers measured", "paper (Fig. 16)", "ours", "evidence vs STANDARD"],
            rows))
        series = {}
        for entry in tree:
            for v, m in entry["candidates"].items():
                series[f"{VARIANTS[v].label} ({entry['setting']})"] = (
                    [m["time_ratio"]], [m["accuracy_gap"]])
        if series:
            fig = figures.lines(folder, f"tradeoff_{d}.png", series,
                                "time per epoch / STANDARD's", "accuracy - STANDARD's (points)",
                                f"{d}: what each method buys (cf. EDBT Fig. 9)")
            out.append(R.image("decision-tree", fig, f"accuracy vs time trade-off, {d}"))
    return "\n".join(out)


EXPERIMENT = Experiment("decision-tree", "Which method to use", "EDBT §10.4 (TR Fig. 16)",
                        _plan, _analyse, _write)
