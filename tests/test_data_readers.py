"""The file readers on tiny files whose bytes are built by hand here, in each real format.

The headers are packed with `struct` from the format descriptions (LeCun's MNIST page for IDX, the
small NORB readme for the binary matrix, the CIFAR page for the pickles), not with npmlp's writers, so
a reader and a writer cannot share a mistake.
"""

import gzip
import os
import pickle
import struct

import numpy as np
import pytest

from npmlp.data.formats import parse_norb_mat, read_cifar_batch, read_norb_mat
from npmlp.data.idx import read_idx, write_idx
from npmlp.errors import DataCorrupt


def idx_file_bytes(shape, data: bytes) -> bytes:
    # 0x0000, type 0x08 (ubyte), ndim, then big-endian uint32 dims
    return struct.pack(">HBB", 0, 0x08, len(shape)) + struct.pack(f">{len(shape)}I", *shape) + data


def norb_file_bytes(magic, shape, data: bytes) -> bytes:
    # little-endian magic, ndim, then max(ndim, 3) int32 dims (unused ones are 1)
    fields = list(shape) + [1] * (3 - len(shape))
    return struct.pack("<ii", magic, len(shape)) + struct.pack(f"<{len(fields)}i", *fields) + data


@pytest.mark.parametrize("gz", [False, True])
def test_idx_images_and_labels(tmp_path, gz):
    suffix = ".gz" if gz else ""
    wrap = gzip.compress if gz else (lambda b: b)
    (tmp_path / f"img{suffix}").write_bytes(wrap(idx_file_bytes((2, 3, 4), bytes(range(24)))))
    (tmp_path / f"lab{suffix}").write_bytes(wrap(idx_file_bytes((3,), bytes([7, 0, 255]))))

    images = read_idx(tmp_path / f"img{suffix}")
    labels = read_idx(tmp_path / f"lab{suffix}")

    assert images.dtype == np.uint8 and images.shape == (2, 3, 4)
    np.testing.assert_array_equal(images.ravel(), np.arange(24))      # C order: last index fastest
    assert images[1, 0, 0] == 12
    np.testing.assert_array_equal(labels, [7, 0, 255])


def test_idx_writer_matches_hand_built_bytes(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a", array)
    assert (tmp_path / "a").read_bytes() == idx_file_bytes((2, 3, 4), bytes(range(24)))
    write_idx(tmp_path / "a.gz", array)
    assert gzip.decompress((tmp_path / "a.gz").read_bytes()) == idx_file_bytes((2, 3, 4), bytes(range(24)))


@pytest.mark.parametrize("content, words", [
    (idx_file_bytes((2, 3, 4), bytes(range(23))), "truncated"),           # one byte missing
    (idx_file_bytes((2, 3, 4), bytes(range(25))), "padded"),              # one byte too many
    (b"\x01\x00" + idx_file_bytes((1,), b"\x00")[2:], "magic"),           # not 0x0000
    (struct.pack(">HBB", 0, 0x0D, 1) + struct.pack(">I", 1) + b"\0\0\0\0", "element type"),  # float
    (b"\x00\x00", "too short"),
])
def test_idx_bad_files_are_corrupt_and_named(tmp_path, content, words):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(content)
    with pytest.raises(DataCorrupt) as info:
        read_idx(path)
    assert str(path) in str(info.value) and words in str(info.value)
    assert "Delete it" in str(info.value)


def test_truncated_gzip_is_corrupt(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(idx_file_bytes((1000,), bytes(1000)))[:-12])
    with pytest.raises(DataCorrupt, match="gzip"):
        read_idx(path)


@pytest.mark.parametrize("gz", [False, True])
def test_norb_byte_and_int_matrices(tmp_path, gz):
    pixels = np.arange(3 * 2 * 4 * 5, dtype=np.uint8)                         # (N=3, cams=2, 4, 5)
    cats = np.array([4, 0, 2], dtype="<i4")
    dat = norb_file_bytes(0x1E3D4C55, (3, 2, 4, 5), pixels.tobytes())
    cat = norb_file_bytes(0x1E3D4C54, (3,), cats.tobytes())                   # 1-D: 3 dim fields stored
    wrap = gzip.compress if gz else (lambda b: b)
    suffix = ".gz" if gz else ""
    (tmp_path / f"d.mat{suffix}").write_bytes(wrap(dat))
    (tmp_path / f"c.mat{suffix}").write_bytes(wrap(cat))

    X = read_norb_mat(tmp_path / f"d.mat{suffix}")
    y = read_norb_mat(tmp_path / f"c.mat{suffix}")

    assert X.shape == (3, 2, 4, 5) and X.dtype == np.uint8
    np.testing.assert_array_equal(X.ravel(), pixels)
    assert X[1, 1, 0, 0] == (1 * 2 + 1) * 20                                  # sample 1, right camera
    assert y.shape == (3,) and y.dtype == np.dtype("<i4")
    np.testing.assert_array_equal(y, [4, 0, 2])


def test_norb_bad_files_are_corrupt():
    good = norb_file_bytes(0x1E3D4C55, (2, 2, 2), bytes(8))
    with pytest.raises(DataCorrupt, match="magic"):
        parse_norb_mat(b"\x00\x00\x00\x00" + good[4:], "x.mat")
    with pytest.raises(DataCorrupt, match="truncated"):
        parse_norb_mat(good[:-1], "x.mat")


def cifar_batch_bytes(data: np.ndarray, labels) -> bytes:
    # The python version's layout: a dict with bytes keys; data (N, 3072) uint8 = R, G, B planes of 32x32
    batch = {b"batch_label": b"training batch 1 of 5", b"labels": list(labels), b"data": data,
             b"filenames": [b"img%d.png" % i for i in range(len(labels))]}
    return pickle.dumps(batch, protocol=2)


def test_cifar_batch_layout(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, (4, 3072), dtype=np.uint8)
    (tmp_path / "data_batch_1").write_bytes(cifar_batch_bytes(data, [3, 1, 4, 1]))

    X, y = read_cifar_batch(tmp_path / "data_batch_1")

    assert X.shape == (4, 3, 32, 32) and X.dtype == np.uint8 and y.dtype == np.int64
    np.testing.assert_array_equal(y, [3, 1, 4, 1])
    # channel c, row r, column k of sample n sits at data[n, c*1024 + r*32 + k]
    for n, c, r, k in [(0, 0, 0, 0), (1, 2, 31, 31), (3, 1, 5, 17)]:
        assert X[n, c, r, k] == data[n, c * 1024 + r * 32 + k]


class _RunsCommand:
    """A pickle payload that would run a shell command when unpickled by plain `pickle.load`."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_cifar_reader_never_runs_code_from_a_file(tmp_path):
    marker = tmp_path / "was-run"
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": _RunsCommand(marker), b"labels": []}, protocol=2))
    with pytest.raises(DataCorrupt, match="never does"):
        read_cifar_batch(path)
    assert not marker.exists()


@pytest.mark.parametrize("content, words", [
    (pickle.dumps([1, 2, 3], protocol=2), "not a CIFAR batch"),
    (pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, protocol=2), "(N, 3072)"),
])
def test_cifar_wrong_content_is_corrupt(tmp_path, content, words):
    path = tmp_path / "test_batch"
    path.write_bytes(content)
    with pytest.raises(DataCorrupt) as info:
        read_cifar_batch(path)
    assert words in str(info.value)


def test_cifar_truncated_pickle_is_corrupt(tmp_path):
    path = tmp_path / "test_batch"
    path.write_bytes(cifar_batch_bytes(np.zeros((2, 3072), np.uint8), [0, 1])[:-50])
    with pytest.raises(DataCorrupt, match="not a readable CIFAR"):
        read_cifar_batch(path)
