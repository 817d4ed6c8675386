"""The last source: a dataset's official download site, over HTTP(S), into the cache.

Each file is streamed to a temporary name beside its destination with a tqdm byte bar, checked
(complete, gunzips, SHA-256 of the decompressed content), and only then renamed to its official name:
a failed or interrupted download never leaves a file that a later load could pick up.

The step is skipped when the environment sets NPMLP_OFFLINE=1 (tests and CI, whose machines reach only
the package registries). The base URL of each dataset comes from env NPMLP_MIRROR_<NAME> (name upper-
cased, '-' -> '_', e.g. NPMLP_MIRROR_FASHION_MNIST) or else from `MIRRORS` below, so a test can point it
at a server on 127.0.0.1.
"""

from __future__ import annotations

import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from npmlp.data.catalog import SPECS, DatasetSpec
from npmlp.data.files import atomic_path, gunzip, sha256_hex
from npmlp.data.idx import parse_idx
from npmlp.errors import DataCorrupt

MIRRORS = {name: spec.mirror for name, spec in SPECS.items() if spec.mirror}
TIMEOUT_S = 60.0
CHUNK = 1 << 16


class SourceFailed(Exception):
    """One source could not deliver the dataset; the message says why. `corrupt`: it delivered bad bytes."""

    def __init__(self, message, corrupt=False):
        super().__init__(message)
        self.corrupt = corrupt


def offline() -> bool:
    return os.environ.get("NPMLP_OFFLINE", "").strip() not in ("", "0")


def mirror_env_var(spec: DatasetSpec) -> str:
    return "NPMLP_MIRROR_" + spec.name.upper().replace("-", "_")


def mirror_for(spec: DatasetSpec) -> str | None:
    """The base URL to download `spec`'s .gz files from, or None when it has no download site.

    Only IDX datasets can be downloaded (the check parses IDX): MNIST and Fashion-MNIST by default;
    KMNIST or EMNIST-Letters too when the user names a site serving their official .gz files.
    """
    if spec.fmt not in ("idx", "emnist"):
        return None
    return os.environ.get(mirror_env_var(spec)) or MIRRORS.get(spec.name)


def _discarded(url, dest, problem, spec, interrupted=False):
    retry = (f"Run `python -m npmlp.data fetch {spec.name}` again"
             + ("." if interrupted else "; if it fails the same way, the site serves a different file: "
                f"set {mirror_env_var(spec)} to another mirror, or get the files by hand from {spec.where}."))
    return DataCorrupt(f"the file downloaded from {url} is unusable: {problem}. It was discarded; nothing "
                       f"was saved as {dest}. {retry}")


def download_file(url: str, dest: Path, spec: DatasetSpec, fname: str, progress: bool = True) -> None:
    """Download the official `fname` (gzip-compressed) from `url` to `dest`, verified, atomically."""
    with atomic_path(dest) as tmp:
        received, total = 0, None
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp, open(tmp, "wb") as out, \
                    tqdm(total=resp.length, unit="B", unit_scale=True, unit_divisor=1024,
                         desc=dest.name, disable=not progress, leave=False) as bar:
                total = resp.length                      # Content-Length, or None when not sent
                while chunk := resp.read(CHUNK):
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        except http.client.IncompleteRead as e:      # the server closed before Content-Length
            raise _discarded(url, dest, f"the transfer was cut short ({e})", spec, interrupted=True) from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
            raise SourceFailed(f"could not download {url}: {e}") from None
        if total is not None and received != total:
            raise _discarded(url, dest, f"the transfer was cut short: {received:,} of {total:,} bytes "
                                        "arrived", spec, interrupted=True)
        try:
            content = gunzip(tmp.read_bytes())
            parse_idx(content, url)                      # complete and well-formed
        except (ValueError, DataCorrupt) as e:
            raise _discarded(url, dest, getattr(e, "problem", str(e)), spec) from None
        expected = spec.sha256.get(fname)
        if expected is not None and sha256_hex(content) != expected:
            raise _discarded(url, dest, f"the SHA-256 of its decompressed content is "
                                        f"{sha256_hex(content)}, the official {fname} has {expected}", spec)


def download_dataset(spec: DatasetSpec, dest: Path, tmp: Path, progress: bool = True) -> None:
    """Fetch every official file of `spec` that `dest` lacks from its download site into `dest`.

    `tmp` (a scratch folder, unused here) keeps the signature of the registry fetchers.
    """
    base = mirror_for(spec)
    if base is None:
        raise SourceFailed(f"{spec.title} has no known download site")
    if offline():
        raise SourceFailed(f"skipped because NPMLP_OFFLINE=1 (unset it to download from {base})")
    for fname in spec.files:
        if (dest / fname).is_file() or (dest / (fname + ".gz")).is_file():
            continue                                     # an earlier run got it; loading verifies it
        url = base.rstrip("/") + "/" + fname + ".gz"
        download_file(url, dest / (fname + ".gz"), spec, fname, progress)
