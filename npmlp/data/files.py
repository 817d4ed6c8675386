"""File-level helpers shared by the readers and the fetchers: gzip-aware reading, SHA-256, atomic writes.

Every dataset file may be stored plain or gzip-compressed (`NAME` or `NAME.gz`); checksums are always
taken over the *decompressed* bytes, because Debian recompressed Fashion-MNIST's `.gz` files (their
compressed bytes differ from upstream's while the content is identical).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import zlib
from pathlib import Path

from npmlp.errors import DataCorrupt


def corrupt(path, problem, dataset=None):
    """A `DataCorrupt` naming the file, what is wrong with it, and what to do."""
    fetch = f"python -m npmlp.data fetch {dataset}" if dataset else "python -m npmlp.data fetch NAME"
    error = DataCorrupt(
        f"data file {path} is unusable: {problem}. It was not used. Delete it, then fetch it again "
        f"({fetch}) or copy a good copy of the official file there."
    )
    error.problem = problem     # the bare reason, for callers that phrase their own advice
    return error


def find_file(folder: Path, name: str) -> Path | None:
    """`folder/name` or, failing that, `folder/name.gz`; None when neither is a file."""
    for candidate in (folder / name, folder / (name + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def gunzip(data: bytes) -> bytes:
    """Decompress gzip bytes; a truncated or damaged stream raises ValueError saying what is wrong."""
    try:
        return gzip.decompress(data)
    except (EOFError, OSError, zlib.error) as e:  # truncated stream, bad magic, bad CRC
        raise ValueError(f"it is not a complete gzip file ({e})") from None


def decompress_if_gz(path, data: bytes) -> bytes:
    """The decompressed content of `data` when `path` ends in .gz, else `data` itself."""
    if not str(path).endswith(".gz"):
        return data
    try:
        return gunzip(data)
    except ValueError as e:
        raise corrupt(path, str(e)) from None


def read_bytes(path) -> bytes:
    """The whole decompressed content of a plain or `.gz` file."""
    return decompress_if_gz(path, Path(path).read_bytes())


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@contextlib.contextmanager
def atomic_path(dest: Path):
    """Yield a temporary path beside `dest`; on success rename it onto `dest`, on any failure delete it.

    The temporary name carries the process id, so two processes fetching at once never write into the
    same file, and a reader never sees a half-written `dest` (os.replace is atomic on one filesystem).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f"{dest.name}.part-{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_atomically(dest: Path, data: bytes) -> None:
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)
