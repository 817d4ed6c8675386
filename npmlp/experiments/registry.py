"""The experiments by name (the catalogue), in the order of the issue and of the report."""
from ..errors import UserError
from . import (accuracy, crs_error, decision_tree, error_propagation, memory_cache, readouts,
               timing)
from .types import Context, Experiment, Plan  # noqa: F401  (what callers of the catalogue need)

EXPERIMENTS = {e.name: e for e in (
    accuracy.ACCURACY_VS_DEPTH, accuracy.TABLE2, timing.TIME_PER_EPOCH, timing.BATCH_SIZE,
    readouts.CONFUSION, readouts.LABEL_COLLAPSE, error_propagation.EXPERIMENT,
    memory_cache.EXPERIMENT, crs_error.EXPERIMENT, decision_tree.EXPERIMENT)}


def experiments():
    """{name: Experiment} in the order of the issue (and of the report)."""
    return EXPERIMENTS


def get_experiment(name):
    if name not in EXPERIMENTS:
        raise UserError(f"unknown experiment {name!r}; valid: {', '.join(EXPERIMENTS)} (or 'all', "
                        f"'list', 'report')")
    return EXPERIMENTS[name]
