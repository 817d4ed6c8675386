"""Where sampling pays: seconds per epoch against test accuracy, every method and batch size, one
figure per dataset and depth (issue 12; not a figure of the paper).

It trains nothing of its own: its runs are the depth grid's accuracy runs (accuracy-vs-depth) and the
time-per-epoch experiment's timing runs, so a stored result is reused and the analyses are theirs.
A point is a variant (method and batch size) at one depth: x = its seconds per 55,000-sample epoch
(log scale), y = its test accuracy. STANDARD_S and STANDARD_M are drawn as reference lines: a method
pays where it lies left of a STANDARD line (faster) without falling far below it (accuracy).
"""
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from . import accuracy, timing  # noqa: E402
from .plans import depth_grid_plan, time_plan  # noqa: E402
from . import report as R  # noqa: E402
from .types import Experiment, Plan  # noqa: E402
from .variants import VARIANTS  # noqa: E402

REFERENCES = ("standard_S", "standard_M")


def _plan(ctx):
    acc, tim = depth_grid_plan(ctx), time_plan(ctx)
    return Plan(acc.runs + tim.runs, sorted(set(acc.notes + tim.notes)),
                {"datasets": acc.info["datasets"], "depths": acc.info["depths"]})


def _analyse(ctx, plan, results):
    acc = accuracy._analyse_depth(ctx, depth_grid_plan(ctx), results)["test_accuracy"]
    tim = timing._analyse_time(ctx, time_plan(ctx), results)
    points = {}
    for d, by_variant in acc.items():
        for v, by_depth in by_variant.items():
            for k, a in by_depth.items():
                s = tim["per_epoch_55k_by_depth"].get(d, {}).get(v, {}).get(k)
                if s is not None:
                    points.setdefault(d, {}).setdefault(k, {})[v] = {"seconds": s, "accuracy": a}
    return {**plan.info, "points": points, "load_average": tim["load_average"],
            "taken": tim["taken"]}


def _figure(folder, name, pts, title):
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for v, p in pts.items():
        if v not in REFERENCES:
            ax.plot([p["seconds"]], [p["accuracy"]], "o", ms=6, label=VARIANTS[v].label)
    for v, style in zip(REFERENCES, ("--", ":")):
        if v in pts:
            ax.axvline(pts[v]["seconds"], color="k", ls=style, lw=1)
            ax.axhline(pts[v]["accuracy"], color="k", ls=style, lw=1,
                       label=f"{VARIANTS[v].label} (time, accuracy)")
    ax.set_xscale("log")
    ax.set(xlabel="seconds per 55,000-sample epoch (log)", ylabel="test accuracy (%)", title=title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(folder, name), dpi=110)
    plt.close(fig)
    return name


def _rows(pts):
    rows = []
    ref = pts.get("standard_S")
    for v, p in sorted(pts.items(), key=lambda kv: kv[1]["seconds"]):
        vs = ("" if ref is None or v == "standard_S" else
              f"{ref['seconds'] / p['seconds']:.2f}x, {p['accuracy'] - ref['accuracy']:+.2f}")
        rows.append([VARIANTS[v].label, f"{p['seconds']:.1f}", f"{p['accuracy']:.2f}", vs])
    return rows


def _write(ctx, a, folder):
    out = ["Each point is a method at its batch size (S = 1, M = 20): its time per 55,000-sample "
           "epoch (time-per-epoch's timing runs, 1 thread) against the test accuracy of its "
           "accuracy run (accuracy-vs-depth). The dashed and dotted lines are STANDARD_S and "
           "STANDARD_M. The speed-up and accuracy change in the tables are against STANDARD_S.\n"]
    if a["load_average"]:
        out.append(f"Timing runs' load average: {a['load_average'][0]:.1f}-"
                   f"{a['load_average'][1]:.1f}.\n")
    out.append(timing.when_where_line([tuple(x) for x in a.get("taken", [])]))
    for d in a["datasets"]:
        for k in sorted(a["points"].get(d, {}), key=int):
            pts = a["points"][d][k]
            fig = _figure(folder, f"frontier_{d}_{k}.png", pts, f"{d}, {k} hidden layers")
            out.append(f"### {d}, {k} hidden layers\n\n" + R.image("frontier", fig,
                                                                     f"frontier {d} {k}") + "\n"
                       + R.md_table(["method", "s/epoch", "test accuracy (%)",
                                     "vs STANDARD_S (speed-up, points)"], _rows(pts)))
    if not any("topk_S" in pts for by_depth in a["points"].values() for pts in by_depth.values()):
        out.append("TOPK is not on these figures yet: its accuracy and timing runs are not in the depth "
                   "grid of the stored profile (README, 'Accuracy', has its accuracies; "
                   "bench/README.md its interleaved s/epoch).\n")
    out.append(R.scale_caveat(ctx.profile))
    return "\n".join(out)


EXPERIMENT = Experiment("frontier", "Where sampling pays (not in the paper)",
                        "not in the paper: time against accuracy of every method (issue 12)",
                        _plan, _analyse, _write)
