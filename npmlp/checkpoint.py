"""Checkpoints: the whole TrainState in one .npz, written atomically.

Written to a temporary file in the same folder, flushed, then renamed over the old one, so a crash or
Ctrl-C at any moment leaves either the previous checkpoint or the new one, never half a file.
"""
import json
import os
import tempfile

import numpy as np

from .errors import UserError


def save(path, ts, cfg):
    arrays = {}
    for i, p in enumerate(ts.params):
        arrays[f"param.{i}.W"] = p.W
        arrays[f"param.{i}.b"] = p.b
    for k, a in ts.optimizer.state_arrays().items():
        arrays[f"opt.{k}"] = a
    for k, a in ts.strategy.state_arrays().items():
        arrays[f"strategy.{k}"] = a
    meta = {"config": cfg.to_json(), "epoch": ts.epoch, "step": ts.step, "pos": ts.pos,
            "epoch_loss_sum": ts.epoch_loss_sum, "epoch_batches": ts.epoch_batches,
            "rng": ts.rng.bit_generator.state, "ledger": ts.ledger.state(), "history": ts.history,
            "shapes": [list(p.W.shape) for p in ts.params]}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    if ts.perm is not None:
        arrays["perm"] = ts.perm
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".checkpoint-", suffix=".npz", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_meta(path):
    try:
        with np.load(path) as z:
            return json.loads(bytes(z["meta"]).decode())
    except (OSError, ValueError, KeyError) as e:
        raise UserError(f"cannot read checkpoint {path}: {e}. Start a new run without --resume, or "
                        f"point --out at the run folder that holds a valid checkpoint.npz.") from None


def load_into(path, ts):
    """Restore `ts` (built from the checkpoint's own config) from `path`."""
    meta = read_meta(path)
    shapes = [list(p.W.shape) for p in ts.params]
    if meta["shapes"] != shapes:
        raise UserError(f"checkpoint {path} holds a network with layer shapes {meta['shapes']}, "
                        f"but this run builds {shapes}; resume with the same --hidden and dataset, "
                        f"or start a new run in another --out folder.")
    with np.load(path) as z:
        for i, p in enumerate(ts.params):
            p.W[...] = z[f"param.{i}.W"]
            p.b[...] = z[f"param.{i}.b"]
        ts.optimizer.load_state_arrays({k[4:]: z[k] for k in z.files if k.startswith("opt.")})
        ts.strategy.load_state_arrays({k[9:]: z[k] for k in z.files if k.startswith("strategy.")},
                                      ts.params)
        ts.perm = z["perm"].copy() if "perm" in z.files else None
    ts.epoch, ts.step, ts.pos = meta["epoch"], meta["step"], meta["pos"]
    ts.epoch_loss_sum, ts.epoch_batches = meta["epoch_loss_sum"], meta["epoch_batches"]
    ts.rng.bit_generator.state = meta["rng"]
    ts.ledger.load_state(meta["ledger"])
    ts.history = meta["history"]
    return meta
