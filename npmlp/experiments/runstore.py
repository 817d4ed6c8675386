"""Runs keyed by a hash of everything that determines their outcome, stored one folder per key.

    OUT/runs/<key>/spec.json      what the run is (kind, full config, parameters)
    OUT/runs/<key>/...            what the run writes while it works (checkpoint.npz, metrics.jsonl)
    OUT/runs/<key>/result.json    written last, atomically: its presence means "finished"

The key is the first 16 hex digits of the SHA-256 of the canonical JSON of (kind, full config,
parameters). Two experiments that need the same run (table2's MNIST STANDARD_S at 3 layers is also
a point of accuracy-vs-depth) share it; a finished run is never computed again; an interrupted one
resumes from its checkpoint. Labels, tags and scheduling hints are not part of the key.
"""
import hashlib
import json
import os
from dataclasses import dataclass, field

from ..runs import _json_default, write_atomic

KEY_FORMAT = 1  # bump only if the meaning of a stored result changes for the same spec
# Config fields added after the stored runs were keyed. Each is left out of the key while it holds
# its default (which reproduces the behaviour from before it existed: fast_path and active_batch
# "auto" equal the reference path to rounding, tested in their issues), so adding an option does not
# change the key of every stored run. A new Config field belongs here.
ADDED_CONFIG_FIELDS = ("topk_active", "topk_eval", "active_batch", "fast_path", "hogwild")


def keyed_config(config):
    """The part of a run's config that its key hashes: all of it but added fields at their default."""
    if not config:
        return config
    from ..config import Config
    defaults = Config()
    return {k: v for k, v in config.items()
            if not (k in ADDED_CONFIG_FIELDS and v == getattr(defaults, k))}


@dataclass
class RunSpec:
    kind: str                   # what executes it: "train", "error-propagation", "memory", ...
    config: dict                # Config.to_json() of the run ({} for kinds without a training config)
    params: dict = field(default_factory=dict)   # kind-specific settings, e.g. {"repeat": 1}
    exclusive: bool = False     # timing run: executed alone, never beside another run of the sweep
    label: str = ""             # for progress lines
    tags: dict = field(default_factory=dict)     # how the experiment files the result (not keyed)

    @property
    def key(self):
        blob = json.dumps({"format": KEY_FORMAT, "kind": self.kind,
                           "config": keyed_config(self.config),
                           "params": self.params}, sort_keys=True, default=_json_default)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def to_json(self):
        return {"key": self.key, "kind": self.kind, "config": self.config, "params": self.params,
                "exclusive": self.exclusive, "label": self.label}


def run_folder(root, key):
    return os.path.join(root, key)


def load_result(root, key):
    """The stored result of a finished run, or None."""
    path = os.path.join(run_folder(root, key), "result.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


# What adopting a run from another store copies: its record, not its weights (checkpoint.npz) or raw
# profiler output, which no analysis reads once result.json exists.
ADOPTED_FILES = ("spec.json", "config.json", "metrics.jsonl", "summary.json", "log.txt", "result.json")


def adopt(root, key, sources):
    """Copy the finished run `key` from the first store in `sources` that holds it into `root`;
    return that source, or None. A store's own runs are never changed."""
    import shutil
    for src in sources:
        if os.path.abspath(src) == os.path.abspath(root) or load_result(src, key) is None:
            continue
        dest = run_folder(root, key)
        os.makedirs(dest, exist_ok=True)
        for name in ADOPTED_FILES:               # result.json last: its presence means "finished"
            path = os.path.join(run_folder(src, key), name)
            if os.path.exists(path):
                shutil.copyfile(path, os.path.join(dest, name + ".tmp"))
                os.replace(os.path.join(dest, name + ".tmp"), os.path.join(dest, name))
        return src
    return None


def store_result(root, spec, result):
    """Mark a run finished. Skips (environment-dependent, e.g. no valgrind) are not stored."""
    if "skipped" in result:
        return
    folder = run_folder(root, spec.key)
    os.makedirs(folder, exist_ok=True)
    write_json(os.path.join(folder, "spec.json"), spec.to_json())
    write_json(os.path.join(folder, "result.json"), result)


def write_json(path, obj):
    write_atomic(path, json.dumps(obj, indent=1, default=_json_default) + "\n")


def read_json(path):
    with open(path) as f:
        return json.load(f)


def dedupe(specs):
    """Specs in order, one per key (the first one's label and tags win)."""
    seen, out = set(), []
    for s in specs:
        if s.key not in seen:
            seen.add(s.key)
            out.append(s)
    return out
