"""Every experiment of `python -m npmlp.experiments` end to end in the test profile (synthetic data, tiny
networks): results, figures, sections, REPORT.md; and a second invocation recomputes nothing."""
import json
import pathlib
import os

import numpy as np
import pytest

from npmlp.experiments import __main__ as cli
from npmlp.experiments import paper, sweep
from npmlp.experiments.registry import experiments
from npmlp.strategies import STRATEGIES


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("results"))
    code = cli.main(["all", "--profile", "test", "--out", out, "--workers", "1", "--no-progress"])
    assert code == 0
    return out


def results(out, name):
    with open(os.path.join(out, name, "results.json")) as f:
        return json.load(f)


def test_every_experiment_writes_results_figures_and_a_section(suite):
    with open(os.path.join(suite, "REPORT.md")) as f:
        report = f.read()
    for name, exp in experiments().items():
        folder = os.path.join(suite, name)
        assert os.path.exists(os.path.join(folder, "results.json")), name
        assert any(f.endswith(".png") for f in os.listdir(folder)), name
        assert f"(`{name}`)" in report and "Regenerate: `python -m npmlp.experiments" in report
        for line in report.splitlines():   # every image the report shows exists
            if line.startswith("![") and f"]({name}/" in line:
                assert os.path.exists(os.path.join(suite, line.split("](")[1].rstrip(")"))), line


def test_table2_has_every_registered_variant_and_the_papers_numbers(suite):
    a = results(suite, "table2")
    acc = a["test_accuracy"]["synthetic"]
    want = {v for v in paper.TABLE2_COLUMNS if v.split("_")[0] in STRATEGIES} | {"topk_S"}
    assert set(acc) == want
    assert all(0.0 <= x <= 100.0 for x in acc.values())
    assert a["paper"]["mnist"]["mc-approx_M"] == 98.10 and a["paper"]["cifar10"]["standard_S"] == 93.02


def test_depth_grid_and_its_readouts_share_runs(suite):
    depth = results(suite, "accuracy-vs-depth")
    conf = results(suite, "confusion")
    assert set(conf["runs"]) <= set(depth["runs"])          # the same keys: trained once
    for v, by in conf["confusion"]["synthetic"].items():
        for k, cm in by.items():
            assert np.asarray(cm).sum() == 1000               # the synthetic test split
    curves = depth["val_curves"]["synthetic"]["standard_S"]["1"]
    assert len(curves) == 2                                   # one validation accuracy per epoch


def test_error_propagation_measures_exact_first_layers_and_sampled_deeper_ones(suite):
    a = results(suite, "error-propagation")
    for v, by in a["measured"]["synthetic"].items():
        for depth, e in by.items():
            for phase in ("init", "trained"):
                r = e[phase]["ratios"]
                assert len(r) == int(depth) + 1 and r[0] == 0.0   # layer 1 reads the exact input
                if v == "mc-approx_M":
                    assert max(r) == 0.0          # MC-APPROX samples no forward product
                elif v in ("alsh-approx_S", "dropout_S"):
                    assert r[1] > 0.0             # a sampled layer below: an error
    assert a["paper_table_c5"] == list(paper.THEOREM72_TABLE)


def test_time_tables_and_memory_are_filled(suite):
    t = results(suite, "time-per-epoch")
    cells = t["tables"]["synthetic"]
    for v in t["table3"] + t["table4"]:
        eps = cells[v]["epochs"]
        assert len(eps) == 2 and all(e["total"] > 0 and e["samples"] == 100 for e in eps)
    m = results(suite, "memory-and-cache")
    for v, r in m["memory"].items():
        assert r["peak_rss"] > 0 and len(r["stages"]) == 4 + 1 + 1   # set-up, 1 epoch, end
    assert any("cache profile skipped" in n for n in m["notes"])


def test_decision_tree_reports_each_setting(suite):
    a = results(suite, "decision-tree")
    tree = a["trees"]["synthetic"]
    assert [e["setting"] for e in tree] == ["mini-batch (20)", "SGD, <= 4 hidden layers",
                                           "SGD, > 4 hidden layers"]
    assert tree[2]["recommended"] is None            # the test profile has no depth > 4


def test_a_second_invocation_recomputes_nothing(suite, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("a finished run was executed again")
    monkeypatch.setattr(sweep, "execute", never)
    assert cli.main(["all", "--profile", "test", "--out", suite, "--workers", "2",
                     "--no-progress"]) == 0


def test_a_user_folder_reuses_published_runs_and_leaves_them_alone(suite, tmp_path, monkeypatch, capsys):
    """Issue 13 item 4: the default output is a folder of the user's; finished runs of the published
    store are copied and counted as reused; the published folder is not written."""
    def never(*args, **kwargs):
        raise AssertionError("a finished run was executed again")
    monkeypatch.setattr(sweep, "execute", never)
    monkeypatch.setattr(cli, "PUBLISHED", suite)
    before = {p: p.read_bytes() for p in pathlib.Path(suite).rglob("*") if p.is_file()}
    mine = tmp_path / "mine"
    capsys.readouterr()
    assert cli.main(["crs-error", "--profile", "test", "--out", str(mine), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "0 ran now, 0 already in" in out and " reused from " in out, out
    assert (mine / "REPORT.md").exists() and (mine / "crs-error" / "section.md").exists()
    assert {p: p.read_bytes() for p in pathlib.Path(suite).rglob("*") if p.is_file()} == before


def test_the_default_output_is_not_the_published_folder():
    args = cli.build_parser().parse_args(["crs-error"])
    out, reuse = cli.output_folder(args)
    assert out == cli.DEFAULT_OUT and os.path.abspath(out) != os.path.abspath(cli.PUBLISHED)
    args = cli.build_parser().parse_args(["crs-error", "--publish"])
    assert os.path.abspath(cli.output_folder(args)[0]) == os.path.abspath(cli.PUBLISHED)
