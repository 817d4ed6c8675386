"""`load` on tiny datasets written in each real format: splits, scaling, sources, and every error message.

Each test shrinks a dataset's catalog entry (counts, validation size, checksums of the tiny files)
with monkeypatch, writes the files under their official names in tmp_path, and loads them. Caches and
data folders are tmp paths; the registries and the official sites are switched off.
"""

import dataclasses
import gzip
import pickle
import struct
from types import MappingProxyType

import numpy as np
import pytest

from npmlp.data import DATASET_NAMES, catalog, load, registries
from npmlp.data.files import sha256_hex
from npmlp.data.idx import idx_bytes
from npmlp.errors import DataCorrupt, DatasetNotAvailable, UserError

N_TRAIN, N_TEST, N_VAL = 30, 8, 6


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("NPMLP_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("NPMLP_DATA", raising=False)
    monkeypatch.setenv("NPMLP_OFFLINE", "1")
    monkeypatch.setattr(registries, "REGISTRY_FETCHERS", {})


def shrink(monkeypatch, name, checksums=None, **sizes):
    """Make catalog entry `name` describe a tiny dataset (and trust `checksums` if given)."""
    fields = {"n_train_file": N_TRAIN, "n_test": N_TEST, "n_val": N_VAL, **sizes}
    if checksums is not None:
        fields["sha256"] = MappingProxyType(checksums)
    spec = dataclasses.replace(catalog.SPECS[name], **fields)
    monkeypatch.setitem(catalog.SPECS, name, spec)
    return spec


def tiny_images(seed, n, shape=(28, 28), classes=10):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, *shape), dtype=np.uint8), rng.integers(0, classes, n).astype(np.uint8)


def write_mnist_like(folder, seed=0, gz=False, monkeypatch=None, name="mnist"):
    """Write the 4 official IDX files of a tiny MNIST-like set; register their checksums. -> arrays."""
    folder.mkdir(parents=True, exist_ok=True)
    X_tr, y_tr = tiny_images(seed, N_TRAIN)
    X_te, y_te = tiny_images(seed + 100, N_TEST)
    contents = dict(zip(catalog.MNIST_FILES, map(idx_bytes, (X_tr, y_tr, X_te, y_te))))
    for fname, data in contents.items():
        target = folder / (fname + (".gz" if gz else ""))
        target.write_bytes(gzip.compress(data) if gz else data)
    if monkeypatch is not None:
        shrink(monkeypatch, name, {f: sha256_hex(d) for f, d in contents.items()})
    return X_tr, y_tr, X_te, y_te


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_from_data_dir(tmp_path, monkeypatch, gz):
    X_tr, y_tr, X_te, y_te = write_mnist_like(tmp_path / "data" / "mnist", gz=gz, monkeypatch=monkeypatch)

    s = load("mnist", data_dir=tmp_path / "data")

    assert (s.name, s.num_classes, s.input_shape) == ("mnist", 10, (28, 28))
    for split, n in ((s.train, N_TRAIN - N_VAL), (s.val, N_VAL), (s.test, N_TEST)):
        assert split.X.shape == (n, 784) and split.X.dtype == np.float32 and split.X.flags.c_contiguous
        assert split.y.shape == (n,) and split.y.dtype == np.int64
    # validation="first": the first N_VAL of the training file, then the rest in order
    np.testing.assert_array_equal(s.val.X, X_tr[:N_VAL].reshape(N_VAL, 784) / np.float32(255))
    np.testing.assert_array_equal(s.train.X, X_tr[N_VAL:].reshape(-1, 784) / np.float32(255))
    np.testing.assert_array_equal(s.val.y, y_tr[:N_VAL])
    np.testing.assert_array_equal(s.train.y, y_tr[N_VAL:])
    np.testing.assert_array_equal(s.test.X, X_te.reshape(N_TEST, 784) / np.float32(255))
    np.testing.assert_array_equal(s.test.y, y_te)
    assert str(tmp_path / "data" / "mnist") in s.source and "--data-dir" in s.source


def test_random_validation_is_a_seeded_partition(tmp_path, monkeypatch):
    X_tr, y_tr, _, _ = write_mnist_like(tmp_path / "cache" / "mnist", monkeypatch=monkeypatch)
    flat = X_tr.reshape(N_TRAIN, 784) / np.float32(255)

    def rows(split):   # which training-file rows a split holds (the tiny images are all distinct)
        return [int(np.flatnonzero((flat == x).all(axis=1))[0]) for x in split.X]

    a, b, c = (load("mnist", validation="random", seed=s) for s in (3, 3, 4))

    assert rows(a.val) == rows(b.val) and rows(a.train) == rows(b.train)      # same seed, same split
    assert rows(a.val) != rows(c.val)                                           # another seed, another
    assert len(rows(a.val)) == N_VAL and sorted(rows(a.val) + rows(a.train)) == list(range(N_TRAIN))
    assert rows(a.val) == sorted(rows(a.val)) and rows(a.train) == sorted(rows(a.train))  # file order
    assert rows(a.val) != list(range(N_VAL))
    np.testing.assert_array_equal(a.train.y, y_tr[rows(a.train)])


def test_limit_keeps_the_first_training_samples(tmp_path, monkeypatch):
    X_tr, _, _, _ = write_mnist_like(tmp_path / "cache" / "mnist", monkeypatch=monkeypatch)
    s = load("mnist", limit=5)
    assert len(s.train.y) == 5 and len(s.val.y) == N_VAL and len(s.test.y) == N_TEST
    np.testing.assert_array_equal(s.train.X, X_tr[N_VAL:N_VAL + 5].reshape(5, 784) / np.float32(255))
    assert len(load("mnist", limit=10_000).train.y) == N_TRAIN - N_VAL      # more than there is: all


def test_standardize_uses_the_training_mean_and_std(tmp_path, monkeypatch):
    X_tr, _, X_te, _ = write_mnist_like(tmp_path / "cache" / "mnist", monkeypatch=monkeypatch)
    train_pixels = X_tr[N_VAL:].astype(np.float64) / 255
    mean, std = train_pixels.mean(), train_pixels.std()

    s = load("mnist", standardize=True)

    assert abs(float(s.train.X.mean())) < 1e-6 and abs(float(s.train.X.std()) - 1) < 1e-5
    expected_test = (X_te.reshape(N_TEST, 784).astype(np.float64) / 255 - mean) / std
    np.testing.assert_allclose(s.test.X, expected_test, rtol=0, atol=1e-5)
    assert s.test.X.dtype == np.float32


def test_unknown_name_lists_the_valid_names():
    with pytest.raises(UserError) as info:
        load("mnsit")
    for name in DATASET_NAMES:
        assert name in str(info.value)


@pytest.mark.parametrize("kwargs, words", [
    ({"validation": "last"}, "validation must be one of first, random"),
    ({"seed": -1}, "seed must be a non-negative integer"),
    ({"limit": 0}, "limit must be a positive integer"),
    ({"limit": 2.5}, "limit must be a positive integer"),
])
def test_bad_options_say_what_is_allowed(kwargs, words):
    with pytest.raises(UserError, match=words):
        load("synthetic", **kwargs)


def test_missing_dataset_names_files_folders_and_where_to_get_them(tmp_path, monkeypatch):
    data = tmp_path / "data"
    (data / "kmnist").mkdir(parents=True)
    (data / "kmnist" / "train-images-idx3-ubyte.gz").write_bytes(b"")      # a partial set
    monkeypatch.setenv("NPMLP_DATA", str(data))

    with pytest.raises(DatasetNotAvailable) as info:
        load("kmnist")

    message = str(info.value)
    for fname in catalog.MNIST_FILES:
        assert fname in message
    for folder in (data / "kmnist", data, tmp_path / "cache" / "kmnist"):
        assert str(folder) in message
    assert "holds only train-images-idx3-ubyte" in message
    assert "rois-codh/kmnist" in message and "NPMLP_DATA" in message


def test_missing_data_folder_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load("mnist", data_dir=tmp_path / "nowhere")


def test_offline_mnist_says_the_download_was_skipped():
    with pytest.raises(DatasetNotAvailable, match="NPMLP_OFFLINE=1"):
        load("mnist", progress=False)


def test_checksum_mismatch_names_the_file_and_is_not_used(tmp_path, monkeypatch):
    folder = tmp_path / "cache" / "mnist"
    write_mnist_like(folder, monkeypatch=monkeypatch)
    labels = folder / "t10k-labels-idx1-ubyte"
    data = bytearray(labels.read_bytes())
    data[-1] ^= 1                                   # one label changed: same size, wrong content
    labels.write_bytes(bytes(data))

    with pytest.raises(DataCorrupt) as info:
        load("mnist")

    message = str(info.value)
    assert str(labels) in message and "SHA-256" in message and "Delete it" in message
    assert "python -m npmlp.data fetch mnist" in message


def test_user_folder_wins_over_cache_and_name_folder_over_flat(tmp_path, monkeypatch):
    # KMNIST has no known checksums, so three different sets can all be "KMNIST" here
    shrink(monkeypatch, "kmnist")
    X_cache, *_ = write_mnist_like(tmp_path / "cache" / "kmnist", seed=1)
    write_mnist_like(tmp_path / "data", seed=2)
    X_user, *_ = write_mnist_like(tmp_path / "data" / "kmnist", seed=3)

    monkeypatch.setenv("NPMLP_DATA", str(tmp_path / "data"))
    s = load("kmnist")
    np.testing.assert_array_equal(s.val.X, X_user[:N_VAL].reshape(N_VAL, 784) / np.float32(255))
    assert str(tmp_path / "data" / "kmnist") in s.source and "NPMLP_DATA" in s.source

    X_flat, *_ = tiny_images(2, N_TRAIN)
    s = load("kmnist", data_dir=tmp_path / "data")          # the argument wins over NPMLP_DATA
    assert "--data-dir" in s.source
    for fname in catalog.MNIST_FILES:
        (tmp_path / "data" / "kmnist" / fname).unlink()
    s = load("kmnist")
    np.testing.assert_array_equal(s.val.X, X_flat[:N_VAL].reshape(N_VAL, 784) / np.float32(255))

    monkeypatch.delenv("NPMLP_DATA")
    s = load("kmnist")
    np.testing.assert_array_equal(s.val.X, X_cache[:N_VAL].reshape(N_VAL, 784) / np.float32(255))
    assert "(cache" in s.source


def test_another_datasets_files_are_skipped_not_taken(tmp_path, monkeypatch):
    # MNIST's (tiny, checksummed) files sit directly in the data folder; Fashion-MNIST and KMNIST share
    # their names. Fashion must come from the cache instead, KMNIST must not load MNIST.
    write_mnist_like(tmp_path / "data", seed=0, monkeypatch=monkeypatch, name="mnist")
    X_fashion, *_ = write_mnist_like(tmp_path / "cache" / "fashion-mnist", seed=7, monkeypatch=monkeypatch,
                                     name="fashion-mnist")
    shrink(monkeypatch, "kmnist")

    s = load("fashion-mnist", data_dir=tmp_path / "data")
    np.testing.assert_array_equal(s.val.X, X_fashion[:N_VAL].reshape(N_VAL, 784) / np.float32(255))

    with pytest.raises(DatasetNotAvailable) as info:
        load("kmnist", data_dir=tmp_path / "data")
    assert "is MNIST's" in str(info.value) and "skipped" in str(info.value)


def test_emnist_letters_are_shifted_and_transposed(tmp_path, monkeypatch):
    spec = shrink(monkeypatch, "emnist-letters")
    folder = tmp_path / "data"
    folder.mkdir()
    upright, letters = tiny_images(5, N_TRAIN, classes=26)
    upright_te, letters_te = tiny_images(6, N_TEST, classes=26)
    # EMNIST stores images column by column (transposed) and letters as 1..26
    arrays = (upright.transpose(0, 2, 1), letters + 1, upright_te.transpose(0, 2, 1), letters_te + 1)
    for fname, array in zip(spec.files, arrays):
        (folder / (fname + ".gz")).write_bytes(gzip.compress(idx_bytes(np.ascontiguousarray(array))))

    s = load("emnist-letters", data_dir=folder)

    assert s.num_classes == 26
    np.testing.assert_array_equal(s.val.X, upright[:N_VAL].reshape(N_VAL, 784) / np.float32(255))
    np.testing.assert_array_equal(s.train.y, letters[N_VAL:])
    np.testing.assert_array_equal(s.test.y, letters_te)
    assert s.train.y.min() >= 0 and s.test.y.max() <= 25

    # A label 0 cannot be an EMNIST letter: the file is reported, not shifted to -1
    (folder / (spec.files[3] + ".gz")).write_bytes(gzip.compress(idx_bytes(np.zeros(N_TEST, np.uint8))))
    with pytest.raises(DataCorrupt, match=r"labels span 0\.\.") as info:
        load("emnist-letters", data_dir=folder)
    assert spec.files[3] in str(info.value)


def test_cifar10_batches_in_their_archive_folder(tmp_path, monkeypatch):
    spec = shrink(monkeypatch, "cifar10")                        # 5 batches of 6 = N_TRAIN
    folder = tmp_path / "data" / "cifar10" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    batches = [(rng.integers(0, 256, (n, 3072), dtype=np.uint8), rng.integers(0, 10, n).tolist())
               for n in (6, 6, 6, 6, 6, N_TEST)]
    for fname, (data, labels) in zip(spec.files, batches):
        (folder / fname).write_bytes(pickle.dumps({b"data": data, b"labels": labels}, protocol=2))

    s = load("cifar10", data_dir=tmp_path / "data")

    assert s.input_shape == (3, 32, 32) and s.train.X.shape == (24, 3072)
    all_train = np.concatenate([d for d, _ in batches[:5]])
    np.testing.assert_array_equal(s.val.X, all_train[:N_VAL] / np.float32(255))     # CHW order kept
    np.testing.assert_array_equal(s.train.y, sum((lab for _, lab in batches[:5]), [])[N_VAL:])
    np.testing.assert_array_equal(s.test.X, batches[5][0] / np.float32(255))


def norb_bytes(magic, array):
    fields = list(array.shape) + [1] * (3 - array.ndim)
    return struct.pack("<ii", magic, array.ndim) + struct.pack(f"<{len(fields)}i", *fields) + array.tobytes()


def test_smallnorb_uses_the_left_camera(tmp_path, monkeypatch):
    spec = shrink(monkeypatch, "smallnorb")
    folder = tmp_path / "data" / "smallnorb"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    pairs = {n: rng.integers(0, 256, (n, 2, 96, 96), dtype=np.uint8) for n in (N_TRAIN, N_TEST)}
    cats = {n: rng.integers(0, 5, n).astype("<i4") for n in (N_TRAIN, N_TEST)}
    for (f_dat, f_cat), n in zip((spec.files[0:2], spec.files[2:4]), (N_TRAIN, N_TEST)):
        (folder / (f_dat + ".gz")).write_bytes(gzip.compress(norb_bytes(0x1E3D4C55, pairs[n])))
        (folder / (f_cat + ".gz")).write_bytes(gzip.compress(norb_bytes(0x1E3D4C54, cats[n])))

    s = load("smallnorb", data_dir=tmp_path / "data")

    assert s.num_classes == 5 and s.input_shape == (96, 96) and s.train.X.shape == (N_TRAIN - N_VAL, 9216)
    np.testing.assert_array_equal(s.val.X, pairs[N_TRAIN][:N_VAL, 0].reshape(N_VAL, -1) / np.float32(255))
    np.testing.assert_array_equal(s.test.y, cats[N_TEST])

    # A training file with fewer pairs than small NORB has is reported by name
    short = pairs[N_TRAIN][:-1]
    (folder / (spec.files[0] + ".gz")).write_bytes(gzip.compress(norb_bytes(0x1E3D4C55, short)))
    with pytest.raises(DataCorrupt) as info:
        load("smallnorb", data_dir=tmp_path / "data")
    assert spec.files[0] in str(info.value) and f"({N_TRAIN}, 96, 96)" in str(info.value)


def test_source_shows_home_as_tilde(monkeypatch, tmp_path):
    """Run records and published results name the data folder without this machine's home path."""
    from pathlib import Path

    from npmlp.data.sources import shown
    monkeypatch.setenv("HOME", str(tmp_path))
    assert shown(tmp_path / ".cache" / "npmlp" / "mnist") == "~/.cache/npmlp/mnist"
    assert shown(Path("/elsewhere/data")) == "/elsewhere/data"
