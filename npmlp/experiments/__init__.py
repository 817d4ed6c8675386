"""The experiment suite: the EDBT paper's evaluation as commands (`python -m npmlp.experiments`).

    types.py        Context (profile, datasets, folders), Plan, Experiment: a leaf module
    registry.py     the experiments by name (imports every experiment module below)
    plans.py        the run grids several experiments share (depth grid, timing runs)
    profiles.py     --profile paper | quick | test: how big each grid is
    variants.py     the paper's method settings (STANDARD_S, MC-APPROX_M, ...) -> training configs
    runstore.py     runs keyed by a hash of their full config; one folder per run; result.json = done
    sweep.py        finished runs skipped; the rest on a local process pool or a Dask cluster
    tasks.py        what a worker does with one run (train, measure, profile)
    suite.py        one experiment end to end: plan -> sweep -> analyse -> results.json, figures, section
    report.py       markdown helpers, and REPORT.md from every section present
    paper.py        the paper's published numbers, each with its table or figure
    figures.py      matplotlib figures
    experiments:    accuracy.py (accuracy-vs-depth, table2), timing.py (time-per-epoch, batch-size),
                    readouts.py (confusion, label-collapse), error_propagation.py,
                    memory_cache.py (+ probe.py, cache_tools.py), crs_error.py, decision_tree.py
"""
