"""The column-row sampling error curves of Adelman et al. 2019, Figure 1 (a, b), in the same report.

The curves are computed by crs_curves.py (`run(draws, seed)` and `plot(data, path)`; the script
bench/crs_error.py calls the same functions); here they become a keyed run (idempotent like every
other) and a section that checks the paper's three findings against our numbers.
"""
import os

import numpy as np

from . import crs_curves, paper
from . import report as R
from .runstore import RunSpec
from .types import Experiment, Plan

SEED = 0


def crs_run(spec, folder, progress=False, log=print):
    """kind "crs-error": the curves' JSON for `draws` random products."""
    return {"data": crs_curves.run(spec["params"]["draws"], spec["params"]["seed"], progress)}


def _plan(ctx):
    run = RunSpec("crs-error", {}, {"draws": ctx.profile.crs_draws, "seed": SEED},
                  label=f"CRS error curves, {ctx.profile.crs_draws} draws")
    return Plan([run], [], {"draws": ctx.profile.crs_draws})


def _mean_over(curves, name):
    return None if name not in curves else np.asarray(curves[name]["rel_error"])


def findings(data):
    """Adelman 2019 §3.2's three observations, tested on our curves (share of ratios where each holds)."""
    a, b = (data["results"][p] for p in data["results"])
    checks = []
    pairs = [("NPS, without replacement (priority), scaled", "NPS, with replacement, scaled"),
             ("uniform, without replacement, scaled", "uniform, with replacement, scaled")]
    share = [np.mean(_mean_over(a, w) < _mean_over(a, r)) for w, r in pairs
             if _mean_over(a, w) is not None and _mean_over(a, r) is not None]
    checks.append((paper.ADELMAN_FIG1[0], float(np.mean(share)) if share else None,
                   "share of (panel a) ratios where without < with replacement"))
    top, nps = _mean_over(b, "top-k"), _mean_over(b, "NPS, without replacement (priority), unscaled")
    rel = None if top is None or nps is None else float(np.median(np.abs(top - nps) / nps))
    checks.append((paper.ADELMAN_FIG1[1], rel, "median relative gap (panel b) top-k vs NPS w/o "
                   "replacement, unscaled"))
    sc = _mean_over(b, "NPS, with replacement, scaled")
    un = _mean_over(b, "NPS, with replacement, unscaled")
    checks.append((paper.ADELMAN_FIG1[2], None if sc is None or un is None else float(np.mean(sc > un)),
                   "share of (panel b) ratios where scaled > unscaled"))
    return [{"claim": c, "value": v, "measure": m} for c, v, m in checks]


def _analyse(ctx, plan, results):
    if not plan.runs or plan.runs[0].key not in results:
        return {**plan.info, "data": None, "findings": []}
    data = results[plan.runs[0].key]["data"]
    return {**plan.info, "data": data, "findings": findings(data)}


def _write(ctx, a, folder):
    if a["data"] is None:
        return "Not run.\n"
    crs_curves.plot(a["data"], os.path.join(folder, "crs_error.png"))
    rows = [[f["claim"], f["measure"], None if f["value"] is None else f"{f['value']:.2f}"]
            for f in a["findings"]]
    return ("Error ||AB - est||_F / (||A||_F ||B||_F) of each CRS variant on random 100 x 100 "
            f"products, mean over {a['draws']} draws (the paper: 1000).\n\n"
            + R.image("crs-error", "crs_error.png", "CRS error curves") + "\n"
            + "Adelman 2019 §3.2's findings, checked on our curves:\n\n"
            + R.md_table(["finding (Adelman 2019)", "measured as", "ours"], rows))


EXPERIMENT = Experiment("crs-error", "Column-row sampling error", "Adelman et al. 2019, Fig. 1 (a, b)",
                        _plan, _analyse, _write)
