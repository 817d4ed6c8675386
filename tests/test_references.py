"""Every `file.py:name` reference resolves: the README's equation table and every docstring or
comment in npmlp/, kernels/ and bench/ that names a function that way; every file they name exists."""
import fnmatch
import glob
import importlib
import os
import re

import pytest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FILE = re.compile(r"(?<![\w/.])((?:npmlp|kernels|bench|tests)/[\w/]+\.py)\b")
REF = re.compile(r"\b((?:npmlp|kernels|bench|tests)/[\w/]+\.py):([A-Za-z_][\w.]*[A-Za-z_\d])")


def resolve(path, name):
    """The object `name` (dotted: Class.method) in the module at `path`, or raise."""
    assert os.path.exists(os.path.join(ROOT, path)), f"{path} does not exist"
    if path.startswith(("bench/", "tests/")):    # scripts, not packages: look for the definition
        with open(os.path.join(ROOT, path), encoding="utf-8") as f:
            src = f.read()
        last = name.split(".")[-1]
        assert re.search(rf"^\s*(def|class) {last}\b|^{last} = ", src, re.M), f"{path}:{name}"
        return None
    obj = importlib.import_module(path[:-3].replace("/", ".").replace(".__init__", ""))
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def equation_table_cells():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    table = text.split("## Equations and where they live", 1)[1].split("\n## ", 1)[0]
    return [row.split("|")[2] for row in table.splitlines() if row.startswith("| ")
            and not row.startswith("| equation")]


def test_the_readme_equation_table_resolves():
    cells = equation_table_cells()
    assert len(cells) >= 10
    checked = 0
    for cell in cells:
        module = None
        for token in re.findall(r"`([^`]+)`", cell):
            if ":" in token:
                path, name = token.split(":", 1)
                resolve(path, name)
                module = path
            elif token.endswith(".py") or token.endswith("/"):
                assert os.path.exists(os.path.join(ROOT, token)), token
                module = token if token.endswith(".py") else None
            elif "*" in token:   # a pattern (`*_backward`): the last named file has a match
                mod = importlib.import_module(module[:-3].replace("/", "."))
                assert fnmatch.filter(dir(mod), token), f"nothing matches {token} in {module}"
            else:    # a bare name after a `file.py:name` in the same cell: that file's
                assert module is not None, f"{token!r} names no file in: {cell}"
                resolve(module, token)
            checked += 1
    assert checked >= 20


def _sources():
    for pattern in ("npmlp/**/*.py", "kernels/*.py", "bench/*.py", "bench/*.md", "README.md"):
        yield from glob.glob(os.path.join(ROOT, pattern), recursive=True)


@pytest.mark.parametrize("path", sorted(os.path.relpath(p, ROOT) for p in _sources()))
def test_file_function_references_in_sources_resolve(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        text = f.read()
    for ref_path, name in REF.findall(text):
        resolve(ref_path, name)
    for mentioned in FILE.findall(text):
        assert os.path.exists(os.path.join(ROOT, mentioned)), f"{path} names {mentioned}"
