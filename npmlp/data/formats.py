"""Readers for each dataset's official files, returning raw uint8 images and int64 labels.

Shapes: N = samples in a split, then one sample's `input_shape`:
    MNIST / Fashion / KMNIST / EMNIST   (N, 28, 28)    IDX files (idx.py)
    CIFAR-10                            (N, 3, 32, 32) python pickles, rows of 3072 = 3 planes of 32x32
    small NORB                          (N, 96, 96)    LeCun's binary-matrix `.mat`; camera 0 of
                                                       the stored (N, 2, 96, 96) stereo pairs

Quirks handled here (notes/datasets.md §3): EMNIST stores each image transposed (column-major) and
numbers the letters 1..26; small NORB's `.mat` header is little-endian and always holds at least three
dimension fields; CIFAR's pickles come from Python 2 (keys are bytes).

Every file is checked for what it must hold (counts, shapes, label range): a file that disagrees is
reported by name as corrupt rather than silently producing a wrong split.
"""

from __future__ import annotations

import importlib
import io
import pickle
import struct
from typing import NamedTuple

import numpy as np

from npmlp.data.catalog import DatasetSpec, verify_bytes
from npmlp.data.files import corrupt, read_bytes
from npmlp.data.idx import parse_idx


class RawData(NamedTuple):
    X_train: np.ndarray     # (N_train_file, *input_shape) uint8: training file, validation not yet split off
    y_train: np.ndarray     # (N_train_file,) int64, 0 .. num_classes-1
    X_test: np.ndarray      # (N_test, *input_shape) uint8
    y_test: np.ndarray      # (N_test,) int64


# --- CIFAR-10 -------------------------------------------------------------------------------------

# A CIFAR batch is a pickled dict of bytes, lists and one numpy array. Unpickling runs code named in
# the file, so only the globals such a file needs are allowed: a file from anywhere else cannot run
# anything. (Python 2's pickles name numpy.core; NumPy 2 writes numpy._core; _codecs.encode carries
# Python 2 byte strings under protocol 2.)
_CIFAR_GLOBALS = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
                  ("numpy._core.multiarray", "_reconstruct"), ("_codecs", "encode")}


class _ArrayOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _CIFAR_GLOBALS:
            raise pickle.UnpicklingError(f"it refers to {module}.{name}, which a CIFAR batch never does")
        return getattr(importlib.import_module(module), name)


def read_cifar_batch(path):
    """One CIFAR-10 python batch file -> (X uint8 (N, 3, 32, 32), y int64 (N,))."""
    data = read_bytes(path)
    try:
        batch = _ArrayOnlyUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as e:  # noqa: BLE001 - any failure to decode untrusted bytes means a bad file
        raise corrupt(path, f"it is not a readable CIFAR python batch ({type(e).__name__}: {e})") from None
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise corrupt(path, "it is a pickle but not a CIFAR batch (no b'data' and b'labels' entries)")
    X = np.asarray(batch[b"data"])                       # (N, 3072): R plane, G plane, B plane, row-major
    y = np.asarray(batch[b"labels"], dtype=np.int64)     # (N,)
    if X.dtype != np.uint8 or X.ndim != 2 or X.shape[1] != 3 * 32 * 32 or len(y) != len(X):
        raise corrupt(path, f"its data is {X.dtype} {X.shape} with {len(y)} labels; a CIFAR batch holds "
                            "uint8 (N, 3072) and N labels")
    return X.reshape(-1, 3, 32, 32), y


# --- small NORB -----------------------------------------------------------------------------------

# Magic numbers of LeCun's binary matrix format (norb-v1.0-small/readme), stored little-endian.
_NORB_DTYPES = {0x1E3D4C55: np.dtype(np.uint8), 0x1E3D4C54: np.dtype("<i4"), 0x1E3D4C56: np.dtype("<i2"),
                0x1E3D4C51: np.dtype("<f4"), 0x1E3D4C53: np.dtype("<f8")}


def parse_norb_mat(buf: bytes, path="<bytes>") -> np.ndarray:
    """The array in a NORB binary-matrix file's bytes: magic, ndim, max(ndim, 3) dims, then data."""
    if len(buf) < 8:
        raise corrupt(path, "it is too short for a NORB binary-matrix header")
    magic, ndim = struct.unpack("<Ii", buf[:8])
    if magic not in _NORB_DTYPES:
        raise corrupt(path, f"its magic number 0x{magic:08X} is not one of the NORB binary-matrix types")
    if not 1 <= ndim <= 16:
        raise corrupt(path, f"its header claims {ndim} dimensions")
    n_fields = max(ndim, 3)            # the format always stores at least 3 dimension fields
    header = 8 + 4 * n_fields
    if len(buf) < header:
        raise corrupt(path, "its header is cut short")
    shape = struct.unpack(f"<{n_fields}i", buf[8:header])[:ndim]
    dtype = _NORB_DTYPES[magic]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(buf) != expected:
        raise corrupt(path, f"its header promises {dtype} {shape} = {expected:,} bytes but it holds "
                            f"{len(buf):,} bytes (truncated or padded)")
    return np.frombuffer(buf, dtype=dtype, offset=header).reshape(shape)


def read_norb_mat(path) -> np.ndarray:
    return parse_norb_mat(read_bytes(path), path)


# --- per-dataset readers --------------------------------------------------------------------------

def _expect(ok: bool, path, problem: str, spec: DatasetSpec):
    if not ok:
        raise corrupt(path, problem, spec.name)


def _check_images(X, n, spec, path):
    want = (n, *spec.input_shape)
    _expect(X.dtype == np.uint8 and X.shape == want, path,
            f"it holds {X.dtype} images of shape {X.shape}; {spec.title} has uint8 {want}", spec)


def _check_labels(y, n, spec, path, first=0):
    last = first + spec.num_classes - 1
    _expect(y.shape == (n,), path, f"it holds labels of shape {y.shape}; {spec.title} has ({n},)", spec)
    _expect(n == 0 or (int(y.min()) >= first and int(y.max()) <= last), path,
            f"its labels span {y.min()}..{y.max()}; {spec.title}'s span {first}..{last}", spec)


def _read_idx_verified(spec, fname, path):
    buf = read_bytes(path)
    verify_bytes(spec, fname, path, buf)       # checksum, or at least "not another dataset's file"
    return parse_idx(buf, path)


def _read_idx_set(spec, paths, label_base=0):
    """The four IDX files in the order train images, train labels, test images, test labels."""
    names = spec.files
    arrays = [_read_idx_verified(spec, f, paths[f]) for f in names]
    for (X, y), n, (fx, fy) in zip((arrays[0:2], arrays[2:4]), (spec.n_train_file, spec.n_test),
                                   (names[0:2], names[2:4])):
        _check_images(X, n, spec, paths[fx])
        _check_labels(y, n, spec, paths[fy], first=label_base)
    return arrays


def _read_idx_dataset(spec, paths):
    X_tr, y_tr, X_te, y_te = _read_idx_set(spec, paths)
    return RawData(X_tr, y_tr.astype(np.int64), X_te, y_te.astype(np.int64))


def _read_emnist(spec, paths):
    # EMNIST letters are numbered 1..26 (a..z); shift to 0..25. Its images are stored transposed
    # (column by column), so swap rows and columns to make them upright like MNIST's.
    X_tr, y_tr, X_te, y_te = _read_idx_set(spec, paths, label_base=1)
    return RawData(X_tr.transpose(0, 2, 1), y_tr.astype(np.int64) - 1,
                   X_te.transpose(0, 2, 1), y_te.astype(np.int64) - 1)


def _read_cifar(spec, paths):
    *train_names, test_name = spec.files      # data_batch_1..5, test_batch
    train = [read_cifar_batch(paths[f]) for f in train_names]
    X_tr = np.concatenate([X for X, _ in train])
    y_tr = np.concatenate([y for _, y in train])
    X_te, y_te = read_cifar_batch(paths[test_name])
    where_train = paths[train_names[0]].parent / "data_batch_{1..5}"
    _check_images(X_tr, spec.n_train_file, spec, where_train)
    _check_labels(y_tr, spec.n_train_file, spec, where_train)
    _check_images(X_te, spec.n_test, spec, paths[test_name])
    _check_labels(y_te, spec.n_test, spec, paths[test_name])
    return RawData(X_tr, y_tr, X_te, y_te)


def _read_norb(spec, paths):
    out = []
    for (f_dat, f_cat), n in zip((spec.files[0:2], spec.files[2:4]), (spec.n_train_file, spec.n_test)):
        pairs = read_norb_mat(paths[f_dat])             # (N, 2, 96, 96): two cameras per scene
        cat = read_norb_mat(paths[f_cat])               # (N,) int32 category 0..4
        _expect(pairs.ndim == 4 and pairs.shape[1] == 2, paths[f_dat],
                f"it holds {pairs.shape}; a small NORB -dat file holds (N, 2, 96, 96) stereo pairs", spec)
        X = pairs[:, 0]                                 # camera 0 only: see catalog.py
        _check_images(X, n, spec, paths[f_dat])
        _check_labels(cat, n, spec, paths[f_cat])
        out += [X, cat.astype(np.int64)]
    return RawData(*out)


_READERS = {"idx": _read_idx_dataset, "emnist": _read_emnist, "cifar": _read_cifar, "norb": _read_norb}


def read_raw(spec: DatasetSpec, paths: dict) -> RawData:
    """Read and check a dataset whose official files are at `paths` (official name -> Path)."""
    return _READERS[spec.fmt](spec, paths)
