"""`load(name)`: a dataset as the engine uses it, split into train / validation / test.

Shapes: N = samples in a split, D = features = prod(input_shape).
    X  (N, D) float32, C-contiguous; pixels / 255 in [0, 1], or standardised with the training split's
       mean and std when `standardize=True`
    y  (N,)   int64, 0 .. num_classes-1

Validation is taken out of the official training file (sizes in catalog.py, after the EDBT paper):
    validation="first"   its first n_val samples, as the authors' code does (contiguous slices;
                         reference-implementations.md "Common facts"); the rest, in order, is train
    validation="random"  a seeded random n_val of them (the paper's text: "randomly partition"); both
                         parts keep the file's order
Standardisation uses one scalar mean and std over all training pixels, as the authors' code normalises
(MNIST 0.1307 / 0.3081); per-pixel statistics would divide by zero on MNIST's always-black border.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from npmlp.data import sources
from npmlp.data.catalog import SPECS
from npmlp.data.synthetic import DEFAULT_SIZES, NUM_CLASSES, NUM_FEATURES, make_synthetic
from npmlp.errors import UserError
from npmlp.seeds import child_generator

DATASET_NAMES = ("mnist", "fashion-mnist", "kmnist", "emnist-letters", "cifar10", "smallnorb", "synthetic")
VALIDATION_MODES = ("first", "random")


class Split(NamedTuple):
    X: np.ndarray       # (N, D) float32
    y: np.ndarray       # (N,) int64


class Dataset(NamedTuple):
    name: str
    num_classes: int
    input_shape: tuple  # one sample before flattening, e.g. (28, 28) or (3, 32, 32)
    train: Split
    val: Split
    test: Split
    source: str         # where the files were found or fetched from


def check_name(name: str) -> str:
    if name not in DATASET_NAMES:
        raise UserError(f"unknown dataset {name!r}; valid names: {', '.join(DATASET_NAMES)}")
    return name


def _check_options(validation, seed, limit):
    if validation not in VALIDATION_MODES:
        raise UserError(f"validation must be one of {', '.join(VALIDATION_MODES)}, got {validation!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UserError(f"seed must be a non-negative integer, got {seed!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer))
                              or limit < 1):
        raise UserError(f"limit must be a positive integer (number of training samples) or None, "
                        f"got {limit!r}")


def split_indices(n: int, n_val: int, validation: str, seed: int):
    """(train indices, validation indices) into a training file of n samples, each in file order."""
    if validation == "first":
        return np.arange(n_val, n), np.arange(n_val)
    order = child_generator(seed, "split").permutation(n)   # npmlp/seeds.py
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def to_features(X: np.ndarray) -> np.ndarray:
    """(N, *input_shape) uint8 pixels or floats in [0, 1] -> (N, D) float32 in [0, 1], C-contiguous."""
    X = X.reshape(len(X), -1)
    if X.dtype == np.uint8:
        return np.divide(X, np.float32(255), dtype=np.float32)   # a new array: pixels / 255
    return np.ascontiguousarray(X, dtype=np.float32)


def standardize_splits(train: Split, *others: Split):
    """Shift and scale every split in place by the training split's pixel mean and std."""
    # float32 reductions: NumPy sums contiguous float32 pairwise (relative error ~1e-7 here), and a
    # float64 std would first copy the whole training set to float64 (1.5 s for MNIST instead of 0.1 s).
    mean = float(train.X.mean())
    std = float(train.X.std()) or 1.0   # a constant training set: shift only
    for split in (train, *others):
        np.subtract(split.X, np.float32(mean), out=split.X)
        np.divide(split.X, np.float32(std), out=split.X)
    return mean, std


def load(name, *, data_dir=None, validation="first", seed=0, standardize=False, limit=None,
         progress=True) -> Dataset:
    """Load a dataset by name (one of `DATASET_NAMES`), finding or fetching its files as needed.

    `limit=N` keeps only the first N training samples (validation and test stay whole). `seed` drives
    the random validation split and, for "synthetic", the data itself. `progress` shows fetch
    progress on stderr. Missing files raise `DatasetNotAvailable`, bad ones `DataCorrupt`.
    """
    check_name(name)
    _check_options(validation, seed, limit)
    if name == "synthetic":
        raw = make_synthetic(seed=seed)
        num_classes, input_shape, n_val = NUM_CLASSES, (NUM_FEATURES,), DEFAULT_SIZES[1]
        source = f"synthetic: generated from seed {seed} (no files; see npmlp/data/synthetic.py)"
    else:
        spec = SPECS[name]
        raw, source = sources.load_raw(spec, data_dir, fetch=True, progress=progress)
        num_classes, input_shape, n_val = spec.num_classes, spec.input_shape, spec.n_val

    train_idx, val_idx = split_indices(len(raw.X_train), n_val, validation, seed)
    if limit is not None:
        train_idx = train_idx[:limit]
    train = Split(to_features(raw.X_train[train_idx]), raw.y_train[train_idx].astype(np.int64))
    val = Split(to_features(raw.X_train[val_idx]), raw.y_train[val_idx].astype(np.int64))
    test = Split(to_features(raw.X_test), np.asarray(raw.y_test, dtype=np.int64).copy())
    if standardize:
        standardize_splits(train, val, test)
    return Dataset(name, num_classes, tuple(input_shape), train, val, test, source)
