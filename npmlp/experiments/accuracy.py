"""Accuracy experiments: test accuracy against depth (EDBT Fig. 7, validation curves Figs. 4-6) and
the 3-hidden-layer accuracy table of every method on every dataset (EDBT Table 2).

Both are grids of "train" runs (variants.py: each method in the paper's batch-1 / batch-20 setting).
The depth grid's runs are also what the confusion, label-collapse and decision-tree experiments read;
table2's MNIST runs coincide with the depth grid's 3-layer runs when the profile trains 3 layers, and
are then run once.
"""
from . import figures, paper
from . import report as R
from .plans import depth_grid_plan
from .types import Experiment, Plan
from .variants import VARIANTS, train_run, variants
from .variants import TABLE2 as TABLE2_VARIANTS


# ---------------------------------------------------------------- accuracy-vs-depth

def _analyse_depth(ctx, plan, results):
    acc, curves, diverged = {}, {}, []
    for s in plan.runs:
        r, t = results.get(s.key), s.tags
        if r is None:
            continue
        if "summary" not in r:
            diverged.append(f"{VARIANTS[t['variant']].label}, {t['dataset']}, {t['depth']} hidden: "
                            f"{r.get('error')}")
            continue
        depth = str(t["depth"])
        acc.setdefault(t["dataset"], {}).setdefault(t["variant"], {})[depth] = \
            100 * r["summary"]["test_accuracy"]
        curves.setdefault(t["dataset"], {}).setdefault(t["variant"], {})[depth] = [
            100 * m["val_accuracy"] for m in r["history"]]
    paper_points = {f"{v}@{k}": val for (v, k), val in paper.FIG7_POINTS.items()}
    return {**plan.info, "test_accuracy": acc, "val_curves": curves, "diverged": diverged,
            "paper_points": paper_points}


def _write_depth(ctx, a, folder):
    name = "accuracy-vs-depth"
    out = []
    for d in a["datasets"]:
        acc = a["test_accuracy"].get(d, {})
        series = {VARIANTS[v].label: ([int(k) for k in sorted(by, key=int)],
                                      [by[k] for k in sorted(by, key=int)])
                  for v, by in acc.items()}   # a line must follow depth, whatever the run order
        pts = {}
        if d == "mnist":
            for (v, k), val in paper.FIG7_POINTS.items():
                xs, ys = pts.setdefault(VARIANTS[v].label, ([], []))
                xs.append(k)
                ys.append(val)
        fig = figures.lines(folder, f"test_accuracy_{d}.png", series, "hidden layers",
                            "test accuracy (%)", f"{d}: test accuracy vs depth (EDBT Fig. 7)",
                            paper_points=pts, xticks=a["depths"])
        out.append(f"### {d}\n\n" + R.image(name, fig, f"test accuracy vs depth, {d}"))
        rows = [[VARIANTS[v].label] + [_cell(acc.get(v, {}).get(str(k)), v, k, d)
                                       for k in a["depths"]] for v in a["variants"]]
        out.append(R.md_table(["test accuracy (%)"] + [f"{k} hidden" for k in a["depths"]], rows))
        out.append(_curve_figures(a, d, folder, name))
    if a["diverged"]:
        out.append("Diverged runs (a result, not a failure):\n\n" + R.bullet_list(a["diverged"]))
    out.append(paper.FIG7_TEXT + "\n")
    out.append(R.scale_caveat(ctx.profile))
    if "mnist" in a["test_accuracy"]:
        acc = a["test_accuracy"]["mnist"]
        for v in a["variants"]:
            comps = [(f"{k} hidden", acc.get(v, {}).get(str(k)), paper.FIG7_POINTS.get((v, k)))
                     for k in a["depths"]]
            out.append(R.agreement(VARIANTS[v].label, comps, 2.0, method=VARIANTS[v].method))
    out.extend(R.reasons_once([(VARIANTS[v].label, VARIANTS[v].method) for v in a["variants"]],
                              paper.ACCURACY_DIFFERENCES))
    return "\n".join(out)


def _cell(value, variant, depth, dataset):
    if value is None:
        return None
    p = paper.FIG7_POINTS.get((variant, depth)) if dataset == "mnist" else None
    return R.vs(value, p)


def _curve_figures(a, d, folder, name):
    """Figs. 4-6: validation accuracy per epoch (ALSH per depth, MC per depth, all at 3 layers)."""
    curves = a["val_curves"].get(d, {})
    text = []
    panels = {}
    for v in ("alsh-approx_S", "mc-approx_M"):
        if v in curves:
            panels[VARIANTS[v].label] = {f"{k} hidden": (list(range(1, len(c) + 1)), c)
                                         for k, c in curves[v].items()}
    mid = "3" if 3 in a["depths"] else str(a["depths"][len(a["depths"]) // 2])
    panels[f"every method, {mid} hidden"] = {
        VARIANTS[v].label: (list(range(1, len(c[mid]) + 1)), c[mid])
        for v, c in curves.items() if mid in c}
    fig = figures.curve_panels(folder, f"val_curves_{d}.png", panels, "epoch",
                               "validation accuracy (%)", f"{d}: EDBT Figs. 4, 5, 6")
    text.append(R.image(name, fig, f"validation curves, {d}"))
    return "\n".join(text)


ACCURACY_VS_DEPTH = Experiment(
    "accuracy-vs-depth", "Accuracy against depth", "EDBT Fig. 7 (TR Fig. 9); validation curves "
    "EDBT Figs. 4-6", depth_grid_plan, _analyse_depth, _write_depth)


# ---------------------------------------------------------------- table2

def _plan_table2(ctx):
    p = ctx.profile
    datasets, notes = ctx.usable_datasets(p.table_datasets)
    table2 = variants(TABLE2_VARIANTS)
    runs = [train_run(v, d, 3, p) for d in datasets for v in table2]
    wanted = ctx.datasets or p.table_datasets
    return Plan(runs, notes, {"datasets": datasets, "wanted": list(wanted),
                              "variants": [v.key for v in table2]})


def _analyse_table2(ctx, plan, results):
    acc = {}
    for s, r in plan.finished(results):
        acc.setdefault(s.tags["dataset"], {})[s.tags["variant"]] = \
            100 * r["summary"]["test_accuracy"]
    return {**plan.info, "test_accuracy": acc,
            "paper": {d: dict(zip(paper.TABLE2_COLUMNS, row)) for d, row in paper.TABLE2.items()}}


def _write_table2(ctx, a, folder):
    cols = list(TABLE2_VARIANTS)
    rows = []
    for d in a["wanted"]:
        ours = a["test_accuracy"].get(d, {})
        if d not in a["datasets"]:
            rows.append([d] + [R.vs(None, paper.table2(d, v)) for v in cols])
            continue
        rows.append([d] + [R.vs(ours.get(v), paper.table2(d, v)) for v in cols])
    out = ["Test accuracy (%) with 3 hidden layers, ours (paper's Table 2 value). A dash: not "
           "run here (see the notes above).\n",
           R.md_table(["dataset"] + [VARIANTS[v].label for v in cols], rows)]
    for d in a["datasets"]:
        ours = a["test_accuracy"].get(d, {})
        series = {"ours": [ours.get(v) for v in cols], "paper": [paper.table2(d, v) for v in cols]}
        fig = figures.grouped_bars(folder, f"table2_{d}.png", [VARIANTS[v].label for v in cols],
                                   series, "test accuracy (%)", f"{d}, 3 hidden layers (EDBT Table 2)")
        out.append(R.image("table2", fig, f"Table 2, {d}"))
    out.append(R.scale_caveat(ctx.profile))
    for v in cols:
        comps = [(d, a["test_accuracy"].get(d, {}).get(v), paper.table2(d, v)) for d in a["datasets"]]
        out.append(R.agreement(VARIANTS[v].label, comps, 2.0, method=VARIANTS[v].method))
    out.extend(R.reasons_once([(VARIANTS[v].label, VARIANTS[v].method) for v in cols],
                              paper.ACCURACY_DIFFERENCES))
    return "\n".join(out)


TABLE2 = Experiment(
    "table2", "Accuracy with 3 hidden layers, every method and dataset", "EDBT Table 2 (TR Table 3)",
    _plan_table2, _analyse_table2, _write_table2)
