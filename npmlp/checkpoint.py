"""Checkpoints: the whole TrainState in one .npz, written atomically.

Written to a temporary file in the same folder, flushed, then renamed over the old one, so a crash or
Ctrl-C at any moment leaves either the previous checkpoint or the new one, never half a file. The one
it replaces stays beside it as `checkpoint.prev.npz` (a hard link, so no copy), in case the new file is
damaged later (a full disk, a copy cut short): `--resume` then names both files.
"""
import json
import os
import shutil
import tempfile
import zipfile

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
        if os.path.exists(path):
            _keep_previous(path)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def previous_path(path):
    root, ext = os.path.splitext(path)
    return root + ".prev" + ext


def _keep_previous(path):
    """Make `path`'s current file also reachable as previous_path(path), atomically."""
    prev = previous_path(path)
    tmp = prev + ".tmp"
    if os.path.exists(tmp):
        os.unlink(tmp)
    try:
        os.link(path, tmp)
    except OSError:          # a file system without hard links: copy instead
        shutil.copy2(path, tmp)
    os.replace(tmp, prev)


# What np.load raises on a truncated or damaged .npz (a zip file), besides OSError.
DAMAGED = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile)


def _damaged(path, e):
    prev = previous_path(path)
    if os.path.exists(prev) and prev != path:
        try:
            epoch = read_meta(prev)["epoch"]
            what = (f"The previous checkpoint, {prev} (epoch {epoch}), is intact: to resume from it, "
                    f"move it over the damaged one (mv {prev} {path}).")
        except UserError:
            what = f"The previous checkpoint, {prev}, is damaged too."
    else:
        what = "Start a new run without --resume, or point --out at a folder with a valid checkpoint."
    return UserError(f"cannot read checkpoint {path} ({type(e).__name__}: {e}); it is truncated or "
                     f"damaged and was left as it is. {what}")


def read_meta(path):
    try:
        with open(path, "rb") as f, np.load(f) as z:   # our handle: closed even if np.load fails
            return json.loads(bytes(z["meta"]).decode())
    except DAMAGED as e:
        raise _damaged(path, e) from None


def load_into(path, ts):
    """Restore `ts` (built from the checkpoint's own config) from `path`."""
    meta = read_meta(path)
    shapes = [list(p.W.shape) for p in ts.params]
    if meta["shapes"] != shapes:
        raise UserError(f"checkpoint {path} holds a network with layer shapes {meta['shapes']}, "
                        f"but this run builds {shapes}; resume with the same --hidden and dataset, "
                        f"or start a new run in another --out folder.")
    try:
        with open(path, "rb") as f, np.load(f) as z:
            arrays = {k: z[k] for k in z.files}   # read all first: a damaged file changes nothing
    except DAMAGED as e:
        raise _damaged(path, e) from None
    for i, p in enumerate(ts.params):
        p.W[...] = arrays[f"param.{i}.W"]
        p.b[...] = arrays[f"param.{i}.b"]
    ts.optimizer.load_state_arrays({k[4:]: a for k, a in arrays.items() if k.startswith("opt.")})
    ts.strategy.load_state_arrays({k[9:]: a for k, a in arrays.items() if k.startswith("strategy.")},
                                  ts.params)
    ts.perm = arrays["perm"].copy() if "perm" in arrays else None
    ts.epoch, ts.step, ts.pos = meta["epoch"], meta["step"], meta["pos"]
    ts.epoch_loss_sum, ts.epoch_batches = meta["epoch_loss_sum"], meta["epoch_batches"]
    ts.rng.bit_generator.state = meta["rng"]
    ts.ledger.load_state(meta["ledger"])
    ts.history = meta["history"]
    return meta
