"""Run one experiment end to end: plan its grid, sweep the runs, analyse, write its results and section.

    OUT/runs/<key>/          one folder per run (shared by every experiment that needs that run)
    OUT/<name>/results.json  the experiment's numbers (ours, and the paper's beside them)
    OUT/<name>/*.png         its figures
    OUT/<name>/section.md    its markdown section
    OUT/REPORT.md            every section present, in the issue's order (report.py)
"""
import os
import time

from . import report
from .registry import get_experiment
from .runstore import adopt, dedupe, load_result, write_json
from .sweep import SweepFailed, run_all


def run_experiment(name, ctx, workers=1, scheduler=None, log=print):
    exp = get_experiment(name)
    plan = exp.plan(ctx)
    for note in plan.notes:
        log(f"[{name}] note: {note}")
    failed = None
    t0 = time.perf_counter()
    keys = [s.key for s in dedupe(plan.runs)]
    stored = sum(load_result(ctx.runs_root, k) is not None for k in keys)
    reused = {}
    for k in keys:
        if load_result(ctx.runs_root, k) is None:
            src = adopt(ctx.runs_root, k, ctx.reuse_from)
            if src is not None:
                reused[src] = reused.get(src, 0) + 1
    try:
        results = run_all(plan.runs, ctx.runs_root, workers=workers, scheduler=scheduler,
                          progress=ctx.progress)
    except SweepFailed as e:     # analyse what finished; the failures go into the notes
        failed = e
        results = {}
        for s in plan.runs:
            r = load_result(ctx.runs_root, s.key)
            if r is not None:
                results[s.key] = r
    notes = list(plan.notes)
    if failed is not None:
        notes.append(str(failed))
    plan = plan._replace(notes=notes)
    analysis = exp.analyse(ctx, plan, results)
    analysis.update({"experiment": name, "title": exp.title, "reproduces": exp.paper,
                     "profile": ctx.profile._asdict(), "notes": notes,
                     "command": ctx.command, "runs": sorted({s.key for s in plan.runs})})
    folder = os.path.join(ctx.out, name)
    os.makedirs(folder, exist_ok=True)
    write_json(os.path.join(folder, "results.json"), analysis)
    body = exp.write(ctx, analysis, folder)
    section = report.section(exp, ctx, analysis, body)
    report.write_text(os.path.join(folder, "section.md"), section)
    path = report.write_report(ctx.out)
    ran = len(results) - stored - sum(reused.values())
    where = "".join(f", {n} reused from {src}" for src, n in reused.items())
    log(f"[{name}] {len(results)} of {len(keys)} runs finished: {ran} ran now, {stored} already in "
        f"{ctx.runs_root}{where} ({time.perf_counter() - t0:.1f}s); results in {folder}; "
        f"report {path}")
    if failed is not None:
        raise failed
    return analysis
