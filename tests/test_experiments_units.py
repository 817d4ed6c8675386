"""The experiment suite's pieces against independent expectations: Theorem 7.2 and its measurement on a
network built so the theorem holds exactly, the cache-tool parsers, the decision rule, prediction
spread, what is left out (unregistered methods, missing datasets), and the command line's messages."""
import math
import os

import numpy as np
import pytest

from npmlp.experiments import __main__ as cli
from npmlp.experiments import cache_tools, error_propagation, paper, timing
from npmlp.experiments.decision_tree import decide
from npmlp.experiments.profiles import get_profile
from npmlp.experiments.readouts import prediction_spread
from npmlp.experiments.registry import Context, get_experiment
from npmlp.params import Layer


def test_theorem72_reproduces_the_papers_table_which_truncates_to_two_decimals():
    ours = [error_propagation.theorem72(5, k) for k in range(1, 7)]
    assert [math.floor(x * 100 + 1e-9) / 100 for x in ours] == list(paper.THEOREM72_TABLE)
    assert error_propagation.theorem72(5, 3) == pytest.approx(1.2 ** 3 - 1)


class KeepFirstK:
    """A sampling 'strategy' for the test: keeps units 0..K-1 of every hidden layer, linear units."""

    def __init__(self, K):
        self.K = K

    def forward(self, l, a, layer, ctx, sel=None):
        z = a @ layer.W.T + layer.b
        z[:, self.K:] = 0
        return z, None


def test_measured_ratio_follows_theorem72_where_its_assumption_holds_exactly():
    # All weights 1, all inputs equal, identity activation: every active input carries as much as every
    # inactive one, so active/inactive = c = K/(n-K) at every node and Theorem 7.2 is exact:
    # the ratio after k sampled layers is (n/K)^k - 1 = ((c+1)/c)^k - 1.
    n, K, depth = 12, 4, 4
    params = [Layer(np.ones((n, n)), np.zeros(n)) for _ in range(depth)] + \
             [Layer(np.ones((3, n)), np.zeros(3))]
    X = np.full((5, n), 0.5)
    ratios, kept = error_propagation.layer_ratios(KeepFirstK(K), params, X, None,
                                                  lambda z: (z, None))
    c = K / (n - K)
    assert ratios[0] == 0.0
    np.testing.assert_allclose(ratios[1:], [error_propagation.theorem72(c, k)
                                            for k in range(1, depth + 1)], rtol=1e-12)
    assert kept == [K / n] * depth


def test_cachegrind_and_perf_parsers_and_the_step_difference():
    text = ("desc: I1 cache: 32768 B, 64 B, 8-way associative\ncmd: python\n"
            "events: Ir I1mr ILmr Dr D1mr DLmr Dw D1mw DLmw\nfl=x\n"
            "summary: 1000 10 1 400 40 4 100 10 2\n")
    long = cache_tools.parse_cachegrind(text)
    short = dict(long, Ir=600, Dr=200, Dw=50, D1mr=20, D1mw=5, DLmr=2, DLmw=1)
    per = cache_tools.difference(long, short, steps=2)
    assert per["Ir"] == 200 and per["Dr"] == 100 and per["D1mr"] == 10
    r = cache_tools.rates(per, "cachegrind")
    assert r["data_refs"] == 125 and r["d1_misses"] == 12.5 and r["d1_miss_rate"] == 0.1
    assert r["ll_misses"] == 1.5
    with pytest.raises(ValueError):
        cache_tools.parse_cachegrind("no counts here")
    perf = ("<not supported>,,cache-references,0,100.00,,\n"
            "12345,,instructions,1000,100.00,,\n7,,cache-misses,1000,100.00,,\n")
    assert cache_tools.parse_perf(perf) == {"instructions": 12345, "cache-misses": 7}


def test_cache_geometry_from_a_sysfs_like_folder(tmp_path):
    caches = [(1, "Data", "32K", 8), (1, "Instruction", "32K", 8), (2, "Unified", "1024K", 8),
              (3, "Unified", "32768K", 16)]
    for i, (level, kind, size, ways) in enumerate(caches):
        d = tmp_path / f"index{i}"
        d.mkdir()
        for name, value in (("level", level), ("type", kind), ("size", size),
                            ("ways_of_associativity", ways), ("coherency_line_size", 64)):
            (d / name).write_text(f"{value}\n")
    geo = cache_tools.cache_geometry(str(tmp_path))
    assert geo == {"D1": (32768, 8, 64), "I1": (32768, 8, 64), "LL": (33554432, 16, 64)}
    assert cache_tools.cache_geometry(str(tmp_path / "absent")) == {}


def test_decision_rule_picks_the_fastest_method_that_is_nearly_as_accurate():
    def m(acc, sec):
        return {"accuracy": acc, "seconds": sec}
    measures = {"standard_M": {3: m(97.0, 10.0)}, "mc-approx_M": {3: m(96.5, 8.0)},
                "standard_S": {1: m(95.0, 100.0), 7: m(90.0, 300.0)},
                "alsh-approx_S": {1: m(94.8, 50.0), 7: m(30.0, 100.0)},
                "dropout_S": {1: m(95.5, 40.0), 7: m(90.5, 400.0)}}
    tree = decide(measures, tolerance=1.0)
    assert [e["recommended"] for e in tree] == ["mc-approx_M", "dropout_S", "standard_S"]
    deep = tree[2]["candidates"]
    assert deep["alsh-approx_S"]["accuracy_gap"] == pytest.approx(-60.0)   # faster but collapsed
    assert deep["dropout_S"]["time_ratio"] == pytest.approx(400 / 300)     # as accurate but slower


def test_prediction_spread_of_a_collapsed_and_a_uniform_model():
    collapsed = np.zeros((10, 10), int)
    collapsed[:, 0] = 100
    s = prediction_spread(collapsed)
    assert s["labels_predicted"] == 1 and s["entropy"] == 0.0 and s["max_ratio"] == 10.0
    u = prediction_spread(np.eye(10, dtype=int) * 100)
    assert u["labels_predicted"] == 10 and u["entropy"] == pytest.approx(1.0) and u["max_ratio"] == 1.0


def test_missing_datasets_are_left_out_with_the_reason(monkeypatch, tmp_path):
    monkeypatch.setitem(os.environ, "NPMLP_CACHE", str(tmp_path / "cache"))
    monkeypatch.delitem(os.environ, "NPMLP_DATA", raising=False)
    ctx = Context(get_profile("test"), str(tmp_path), datasets=("synthetic", "kmnist"),
                  progress=False)
    plan = get_experiment("table2").plan(ctx)
    assert {s.tags["dataset"] for s in plan.runs} == {"synthetic"}
    assert any(n.startswith("dataset kmnist skipped:") for n in plan.notes)


def test_every_variant_names_a_registered_method():
    """What lets variants.variants() take every key without a 'not registered' branch."""
    from npmlp.experiments.variants import VARIANTS
    from npmlp.strategies import STRATEGIES
    assert all(v.method in STRATEGIES for v in VARIANTS.values())


@pytest.mark.parametrize("argv,message", [
    (["nope"], "unknown experiment 'nope'; valid experiments: accuracy-vs-depth"),
    (["tabel2"], "Did you mean 'table2'?"),
    (["table2", "--datasets", "mnits"], "unknown dataset 'mnits'; valid datasets: "),
    (["table2", "--publish", "--out", "elsewhere"], "--publish writes"),
    (["table2", "--workers", "0"], "--workers 0 is invalid"),
])
def test_bad_command_lines_end_with_one_message(argv, message, capsys, tmp_path):
    assert cli.main(argv + ["--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_list_names_every_experiment(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("accuracy-vs-depth", "table2", "time-per-epoch", "batch-size", "confusion",
                 "label-collapse", "error-propagation", "memory-and-cache", "crs-error",
                 "decision-tree"):
        assert name in out


@pytest.mark.slow
def test_cachegrind_profile_of_a_few_training_steps(tmp_path):
    import shutil

    from npmlp.config import Config
    from npmlp.experiments import memory_cache
    if shutil.which("valgrind") is None:
        pytest.skip("valgrind is not installed: apt-get install valgrind")
    cfg = Config(dataset="synthetic", method="standard", batch_size=20, hidden=(64,), epochs=1,
                 limit=200)
    r = memory_cache.cache_run({"config": cfg.to_json(),
                                "params": {"steps": [1, 3], "tool": "cachegrind"}}, str(tmp_path))
    rates = r["rates"]
    assert rates["instructions"] > 0 and rates["data_refs"] > 0
    assert 0 <= rates["d1_miss_rate"] <= 1 and 0 <= rates["ll_miss_rate"] <= 1
    # the ledger's forward products of one batch-20 step: 20 x (784 x 64 + 64 x 10) MACs
    assert r["ledger_macs_per_step"] >= 20 * (784 * 64 + 64 * 10)


def test_short_profile_is_quick_on_the_whole_training_split():
    from npmlp.experiments.profiles import get_profile
    quick, short = get_profile("quick"), get_profile("short")
    assert short.limit == 0 and short.epochs == quick.epochs and short.depths == (1, 3, 5)
    assert short.timing_limit == quick.timing_limit   # timing runs are shared with quick


def test_scale_caveat_states_how_much_less_a_profile_trains():
    from npmlp.experiments.profiles import get_profile
    from npmlp.experiments.report import scale_caveat
    assert scale_caveat(get_profile("paper")) == ""
    assert "25x less" in scale_caveat(get_profile("short"))      # 2 x 55,000 vs 50 x 55,000
    assert "275x less" in scale_caveat(get_profile("quick"))     # 2 x 5,000


def test_timing_runs_from_different_days_are_named_with_a_warning():
    same = timing.when_where_line([("2026-12-01", "a")])
    assert same == "Timing runs taken 2026-12-01 on a.\n"
    mixed = timing.when_where_line([(None, "a"), ("2026-12-01", "b")])
    assert "date not recorded on a, 2026-12-01 on b" in mixed and "not comparable" in mixed
    assert timing.when_where_line([]) == ""
    run = {"run": {"host": "b", "finished_utc": "2026-12-01T13:46:00Z"}}
    assert timing._when_where(run) == ("2026-12-01", "b")
    assert timing._when_where({"run": {"host": "a"}}) == (None, "a")
