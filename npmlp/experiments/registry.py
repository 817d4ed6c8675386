"""The experiments by name (the catalogue), in the order of the issue and of the report."""
from ..errors import UserError
from . import (accuracy, crs_error, decision_tree, error_propagation, frontier, memory_cache,
               readouts, selection, timing)
from .types import Context, Experiment, Plan  # noqa: F401  (what callers of the catalogue need)

EXPERIMENTS = {e.name: e for e in (
    accuracy.ACCURACY_VS_DEPTH, accuracy.TABLE2, timing.TIME_PER_EPOCH, timing.BATCH_SIZE,
    readouts.CONFUSION, readouts.LABEL_COLLAPSE, error_propagation.EXPERIMENT,
    memory_cache.EXPERIMENT, crs_error.EXPERIMENT, decision_tree.EXPERIMENT,
    selection.EXPERIMENT, frontier.EXPERIMENT)}


def experiments():
    """{name: Experiment} in the order of the issue (and of the report)."""
    return EXPERIMENTS


COMMANDS = ("all", "list", "report")


def get_experiment(name):
    """The experiment `name` (case and '_'/'-' variants accepted; else the closest name suggested)."""
    from ..config import pick
    exps = experiments()
    return exps[pick("experiment", name, tuple(exps))]


def command_name(name):
    """`name` as an experiment or one of COMMANDS, spelled canonically."""
    from ..config import pick
    return pick("experiment", name, (*experiments(), *COMMANDS))
