"""The run folder: config.json, metrics.jsonl, summary.json, checkpoint.npz, plots.

Every JSON file is written atomically (temporary file + rename); metrics.jsonl is rewritten whole from
the in-memory history each epoch, so it always agrees with the checkpoint beside it.
"""
import json
import os
import tempfile
import time

import numpy as np

from .errors import UserError


def default_run_dir(cfg):
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return os.path.join("runs", f"{cfg.dataset}-{cfg.method}-b{cfg.batch_size}-{stamp}")


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o)}")


def write_atomic(path, text):
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class RunDir:
    def __init__(self, path):
        self.path = path

    def file(self, name):
        return os.path.join(self.path, name)

    def check(self, must_be_new=True):
        """Fail clearly, before anything is written, if the folder holds a run already (for a new run)
        or cannot be created or written."""
        if must_be_new and os.path.exists(self.file("checkpoint.npz")):
            raise UserError(f"{self.path!r} already holds a run (checkpoint.npz). Continue it with "
                            f"--resume --out {self.path}, or choose a new --out folder.")
        parent = os.path.abspath(self.path)
        while not os.path.exists(parent):
            parent = os.path.dirname(parent)
        if not os.path.isdir(parent) or not os.access(parent, os.W_OK | os.X_OK):
            raise UserError(f"cannot write to the output folder {self.path!r} ({parent} is not a "
                            f"writable folder); choose another with --out.")

    def create(self, must_be_new=True):
        """Make the folder; fail clearly if it cannot be written or already holds a run."""
        try:
            os.makedirs(self.path, exist_ok=True)
            probe = tempfile.NamedTemporaryFile(dir=self.path, prefix=".probe-")
            probe.close()
        except OSError as e:
            raise UserError(f"cannot write to the output folder {self.path!r} ({e.strerror}); "
                            f"choose another with --out.") from None
        if must_be_new and os.path.exists(self.file("checkpoint.npz")):
            raise UserError(f"{self.path!r} already holds a run (checkpoint.npz). Continue it with "
                            f"--resume --out {self.path}, or choose a new --out folder.")

    def write_json(self, name, obj):
        write_atomic(self.file(name), json.dumps(obj, indent=2, default=_json_default) + "\n")

    def read_json(self, name):
        with open(self.file(name)) as f:
            return json.load(f)

    def write_metrics(self, history):
        lines = "".join(json.dumps(m, default=_json_default) + "\n" for m in history)
        write_atomic(self.file("metrics.jsonl"), lines)
