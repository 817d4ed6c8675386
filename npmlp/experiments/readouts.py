"""Read-outs of the depth grid's trained networks: confusion matrices (EDBT Fig. 3) and per-label
prediction ratios (EDBT Fig. 13, §10.3).

Both plan a subset of accuracy-vs-depth's runs (same configs, so the same keys: whichever experiment
runs first trains them, the other reads them). Nothing new is trained.
"""
import numpy as np

from ..plots import class_names
from . import figures, paper
from . import report as R
from .plans import depth_grid_plan
from .types import Experiment, Plan
from .variants import VARIANTS

CONFUSION_ROWS = ("standard_S", "dropout_S", "adaptive-dropout_S", "alsh-approx_S", "mc-approx_M")
COLLAPSE_ROWS = ("alsh-approx_S", "dropout_S", "topk_S")   # TOPK: not in the paper


def _subset_plan(ctx, keep):
    plan = depth_grid_plan(ctx)
    runs = [s for s in plan.runs if s.tags["variant"] in keep]
    info = dict(plan.info, variants=[v for v in plan.info["variants"] if v in keep])
    return Plan(runs, [n for n in plan.notes if n.startswith("dataset ")], info)


def _summaries(plan, results):
    """{dataset: {variant: {depth: summary}}} for finished runs."""
    out = {}
    for s, r in plan.finished(results):
        t = s.tags
        out.setdefault(t["dataset"], {}).setdefault(t["variant"], {})[str(t["depth"])] = \
            r["summary"]
    return out


# ---------------------------------------------------------------- confusion

def _analyse_confusion(ctx, plan, results):
    cms = {d: {v: {k: s["confusion_matrix"] for k, s in by.items()} for v, by in bv.items()}
           for d, bv in _summaries(plan, results).items()}
    return {**plan.info, "confusion": cms}


def _write_confusion(ctx, a, folder):
    out = ["Rows: methods (EDBT Fig. 3's rows); columns: hidden layers. Each panel: true label "
           "(rows) against predicted label (columns), counts on the test set.\n"]
    for d in a["datasets"]:
        cms = a["confusion"].get(d, {})
        rows = [VARIANTS[v].label for v in a["variants"]]
        cells = {(VARIANTS[v].label, f"{k} hidden"): np.asarray(m)
                 for v, by in cms.items() for k, m in by.items()}
        fig = figures.matrix_grid(folder, f"confusion_{d}.png", rows,
                                  [f"{k} hidden" for k in a["depths"]], cells,
                                  f"{d}: confusion matrices (EDBT Fig. 3)", "hidden layers", "method")
        out.append(R.image("confusion", fig, f"confusion grid, {d}"))
        diag = [[VARIANTS[v].label] + [_diag_share(cms.get(v, {}).get(str(k))) for k in a["depths"]]
                for v in a["variants"]]
        out.append("Share of the test set on the diagonal (%):\n\n" +
                   R.md_table(["method"] + [f"{k} hidden" for k in a["depths"]], diag))
    return "\n".join(out)


def _diag_share(cm):
    if cm is None:
        return None
    m = np.asarray(cm)
    return f"{100 * np.trace(m) / max(m.sum(), 1):.1f}"


CONFUSION = Experiment("confusion", "Confusion matrices, methods x depths", "EDBT Fig. 3 (TR Fig. 4)",
                       lambda ctx: _subset_plan(ctx, CONFUSION_ROWS), _analyse_confusion,
                       _write_confusion)


# ---------------------------------------------------------------- label collapse

def prediction_spread(cm):
    """Of a confusion matrix: labels ever predicted, the largest prediction ratio, and the entropy
    of the predicted-label distribution over log(C) (1 = every label equally often, 0 = one label)."""
    m = np.asarray(cm, dtype=float)
    predicted = m.sum(axis=0)
    true = m.sum(axis=1)
    p = predicted / max(predicted.sum(), 1)
    nz = p[p > 0]
    # + 0.0: one predicted label gives -0.0, which would print as '-0.000'
    entropy = float(-(nz * np.log(nz)).sum() / np.log(len(p))) + 0.0 if len(p) > 1 else 1.0
    ratios = np.where(true > 0, predicted / np.maximum(true, 1), 0.0)
    return {"labels_predicted": int((predicted > 0).sum()), "classes": len(p),
            "max_ratio": float(ratios.max()), "entropy": entropy}


def _analyse_collapse(ctx, plan, results):
    ratios, spread = {}, {}
    for d, bv in _summaries(plan, results).items():
        for v, by in bv.items():
            for k, s in by.items():
                ratios.setdefault(d, {}).setdefault(v, {})[k] = [
                    None if x != x else x for x in s["label_prediction_ratios"]]   # NaN -> None
                spread.setdefault(d, {}).setdefault(v, {})[k] = prediction_spread(
                    s["confusion_matrix"])
    return {**plan.info, "ratios": ratios, "spread": spread}


def _write_collapse(ctx, a, folder):
    out = [paper.LABEL_COLLAPSE_TEXT + "\n"]
    for d in a["datasets"]:
        panels = {}
        for v in a["variants"]:
            by = a["ratios"].get(d, {}).get(v, {})
            if by:
                ks = sorted(by, key=int)
                m = [[0.0 if x is None else x for x in by[k]] for k in ks]
                panels[VARIANTS[v].label] = ([f"{k} hidden" for k in ks], m)
        if panels:
            n_labels = len(next(iter(panels.values()))[1][0])
            fig = figures.heat_rows(folder, f"label_ratios_{d}.png", panels,
                                    class_names(d, n_labels), "hidden layers",
                                    f"{d}: predictions per label / true count (EDBT Fig. 13)")
            out.append(R.image("label-collapse", fig, f"label prediction ratios, {d}"))
        rows = []
        for v in a["variants"]:
            for k in map(str, a["depths"]):
                s = a["spread"].get(d, {}).get(v, {}).get(k)
                if s:
                    rows.append([VARIANTS[v].label, k, f"{s['labels_predicted']}/{s['classes']}",
                                 f"{s['max_ratio']:.2f}", f"{s['entropy']:.3f}"])
        out.append(R.md_table(["method", "hidden layers", "labels predicted", "largest ratio",
                               "prediction entropy / log C"], rows))
    return "\n".join(out)


LABEL_COLLAPSE = Experiment("label-collapse", "Label collapse against depth",
                            "EDBT Fig. 13 (TR Fig. 15), §10.3",
                            lambda ctx: _subset_plan(ctx, COLLAPSE_ROWS), _analyse_collapse,
                            _write_collapse)
