"""The run grids several experiments share (each experiment module imports its planner from here).

    depth_grid_plan   accuracy-vs-depth, and what confusion, label-collapse and decision-tree read
    time_plan         time-per-epoch, and what decision-tree reads
"""
from .types import Plan
from .variants import DEPTH_GRID, TABLE3, TABLE4, train_run, variants


def depth_grid_plan(ctx):
    """Runs of the depth sweep: DEPTH_GRID variants x profile depths x datasets."""
    p = ctx.profile
    datasets, notes = ctx.usable_datasets(p.datasets)
    grid = variants(DEPTH_GRID)
    runs = [train_run(v, d, depth, p) for d in datasets for v in grid for depth in p.depths]
    return Plan(runs, notes, {"datasets": datasets, "variants": [v.key for v in grid],
                              "depths": list(p.depths)})


def time_plan(ctx):
    """Timing runs: Tables 3-4 variants at 3 layers, repeated, and the depth grid once each."""
    p = ctx.profile
    datasets, notes = ctx.usable_datasets(p.datasets)
    t3, t4, dg = variants(TABLE3), variants(TABLE4), variants(DEPTH_GRID)
    runs = []
    for d in datasets:
        runs += [train_run(v, d, 3, p, timing=True, repeat=r)
                 for v in t3 + t4 for r in range(p.repeats)]
        runs += [train_run(v, d, k, p, timing=True) for v in dg for k in p.depths]
    return Plan(runs, notes,
                {"datasets": datasets, "table3": [v.key for v in t3], "table4": [v.key for v in t4],
                 "depth_variants": [v.key for v in dg], "depths": list(p.depths)})
