"""docs/tutorial.md executes: every ```python block runs in order in one namespace, and a block
followed by an ```output block must print it (words exactly, numbers to rel 1e-6 / abs 1e-9, the rule
stated at the top of the tutorial). Figures are drawn into a temporary folder.

    python tests/test_tutorial.py --update    rewrite the output blocks and docs/figures from a run
"""
import contextlib
import io
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TUTORIAL = os.path.join(ROOT, "docs", "tutorial.md")
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```\n", re.S | re.M)
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def blocks(text):
    """[(kind, code, span)] of the fenced python and output blocks, in order."""
    return [(m.group(1), m.group(2), m.span(2)) for m in BLOCK.finditer(text)
            if m.group(1) in ("python", "output")]


def run(text, figures):
    """Execute the python blocks; [(span of the output block or None, printed, expected)]."""
    os.environ["NPMLP_TUTORIAL_FIGURES"] = figures
    namespace = {"__name__": "tutorial"}
    found = blocks(text)
    results = []
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        for i, (kind, code, _) in enumerate(found):
            if kind != "python":
                continue
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                exec(compile(code, f"tutorial block {i}", "exec"), namespace)
            nxt = found[i + 1] if i + 1 < len(found) else None
            if nxt is not None and nxt[0] == "output":
                results.append((nxt[2], out.getvalue(), nxt[1]))
            elif out.getvalue():
                raise AssertionError(f"tutorial block {i} prints but has no output block:\n{code}")
    finally:
        os.chdir(cwd)
    return results


def same(printed, expected, rel=1e-6, abs_=1e-9):
    """Words equal exactly, numbers within tolerance."""
    if NUMBER.sub("#", printed).split() != NUMBER.sub("#", expected).split():
        return False
    for a, b in zip(NUMBER.findall(printed), NUMBER.findall(expected)):
        x, y = float(a), float(b)
        if abs(x - y) > max(rel * max(abs(x), abs(y)), abs_):
            return False
    return True


def test_tutorial_blocks_print_what_it_says(tmp_path):
    with open(TUTORIAL, encoding="utf-8") as f:
        text = f.read()
    results = run(text, str(tmp_path))
    assert len(results) >= 8
    for _, printed, expected in results:
        assert expected.strip(), "empty output block: run python tests/test_tutorial.py --update"
        assert same(printed, expected), f"printed:\n{printed}\nexpected:\n{expected}"
    for name in ("crs_error.png", "error_propagation.png"):
        assert (tmp_path / name).stat().st_size > 1000
        assert os.path.exists(os.path.join(ROOT, "docs", "figures", name))


def test_tolerance_rule():
    assert same("error 0.1234567 and 3 units", "error 0.1234568 and 3 units")
    assert not same("error 0.1235 and 3 units", "error 0.1234 and 3 units")
    assert not same("kept [1 2]", "kept [1 3]")
    assert not same("same: True", "same: False")


def update():
    with open(TUTORIAL, encoding="utf-8") as f:
        text = f.read()
    results = run(text, os.path.join(ROOT, "docs", "figures"))
    for (start, end), printed, _ in sorted(results, key=lambda r: -r[0][0]):
        text = text[:start] + printed + text[end:]
    with open(TUTORIAL, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    if sys.argv[1:] == ["--update"]:
        update()
    else:
        print(__doc__)
