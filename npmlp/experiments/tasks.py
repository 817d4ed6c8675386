"""What a worker does with one run: `execute(spec, root)`, the same on a local process, a process pool
or a Dask worker. It returns the result (a JSON-ready dict) and leaves storing it to the caller, so a
cluster without a shared filesystem still keeps every finished result on the machine that asked.

Kinds of run (`RunSpec.kind`) and the function that carries each out, imported only when needed:
    train               run_training into the run folder (resumes from its checkpoint)   tasks.train
    error-propagation   sampled vs exact forward, layer by layer      error_propagation.measure_run
    memory              peak RSS of a fresh process training the run  memory_cache.memory_run
    cache-profile       cachegrind (or perf) over a bounded number of steps  memory_cache.cache_run
    crs-error           the Adelman 2019 Fig. 1 error curves          crs_error.crs_run
A result is None when the run was interrupted (Ctrl-C): its checkpoint is kept, nothing is stored.
"""
import datetime
import importlib
import json
import os
import socket
import time

from ..errors import TrainingDiverged
from .runstore import run_folder, write_json

KINDS = {
    "train": "npmlp.experiments.tasks:train",
    "error-propagation": "npmlp.experiments.error_propagation:measure_run",
    "memory": "npmlp.experiments.memory_cache:memory_run",
    "cache-profile": "npmlp.experiments.memory_cache:cache_run",
    "crs-error": "npmlp.experiments.crs_error:crs_run",
}


def _resolve(kind):
    module, _, name = KINDS[kind].partition(":")
    return getattr(importlib.import_module(module), name)


def _load():
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def execute(spec, root, progress=False):
    """Carry out one run (`spec` is RunSpec.to_json()); returns its result dict or None."""
    folder = run_folder(root, spec["key"])
    os.makedirs(folder, exist_ok=True)
    write_json(os.path.join(folder, "spec.json"), spec)
    log_file = open(os.path.join(folder, "log.txt"), "a")

    def log(*parts):
        print(*parts, file=log_file, flush=True)

    load_before, t0, started = _load(), time.perf_counter(), _utc_now()
    try:
        result = _resolve(spec["kind"])(spec, folder, progress=progress, log=log)
    finally:
        log_file.close()
    if result is None:
        return None
    result["run"] = {"key": spec["key"], "kind": spec["kind"], "label": spec.get("label", ""),
                     "exclusive": spec.get("exclusive", False), "host": socket.gethostname(),
                     "pid": os.getpid(), "seconds": time.perf_counter() - t0,
                     "load_average_before": load_before, "load_average_after": _load(),
                     # when: timing runs from different days (or hosts) are not comparable in
                     # seconds, and the report says which runs it mixes
                     "started_utc": started, "finished_utc": _utc_now()}
    return result


def _utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_history(folder):
    path = os.path.join(folder, "metrics.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def train_into(config, folder, progress, log):
    """run_training into `folder`, resuming when a checkpoint is there. (summary, history) or None."""
    from ..config import Config
    from ..runner import run_training
    cfg = Config.from_json(config)
    resume = os.path.exists(os.path.join(folder, "checkpoint.npz"))
    summary = run_training(cfg, out=folder, resume=resume, progress=progress, log=log)
    if summary is None:
        return None
    return summary, read_history(folder)


def train(spec, folder, progress=False, log=print):
    """kind "train": the summary run_training returns, and the per-epoch history."""
    try:
        out = train_into(spec["config"], folder, progress, log)
    except TrainingDiverged as e:   # a result like any other: this config diverges
        return {"error": str(e), "diverged": True}
    if out is None:
        return None
    summary, history = out
    return {"summary": summary, "history": history}
