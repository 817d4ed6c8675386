"""Smoke tests of bench/epoch_time.py and bench/compare_torch.py on a tiny network and random data, so
the scripts cannot rot. They check what the scripts compute (ledger MACs per step against the layer
sizes, the float64 equivalence of npmlp and PyTorch), never how fast anything ran.
"""
import json
import os
import subprocess
import sys

import pytest

BENCH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench")
TINY = ["--data", "random", "--samples", "200", "--hidden", "16,12", "--steps", "4",
        "--warmup-steps", "2", "--repeats", "1"]
SIZES = [784, 16, 12, 10]


def run_script(name, *args, prelude="pass"):
    """Run a bench script as a user would (python bench/NAME ...); `prelude` runs first in-process."""
    code = (f"import runpy, sys; {prelude}; sys.argv = {[name, *args]!r}; "
            f"runpy.run_path({os.path.join(BENCH, name)!r}, run_name='__main__')")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_epoch_time_reports_every_config_with_the_ledgers_exact_work(tmp_path):
    out = tmp_path / "epoch.json"
    proc = run_script("epoch_time.py", *TINY, "--batch", "5", "1", "--threads", "1",
                      "--optimizer", "sgd", "adam", "--probe-mb", "4", "--json", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "EXTRAPOLATED" in proc.stdout and "GFLOP/s" in proc.stdout
    rows = json.loads(out.read_text())["rows"]
    assert [(r["config"]["batch"], r["config"]["optimizer"]) for r in rows] == [
        (5, "sgd"), (5, "adam"), (1, "sgd"), (1, "adam")]
    per_sample = sum(a * b for a, b in zip(SIZES[:-1], SIZES[1:]))
    for r in rows:
        c, (d,) = r["config"], r["derived"]
        assert c["steps"] == 4 and c["steps_per_epoch"] == 200 // c["batch"]
        # forward + weight gradient for every layer, input gradient for all but the first (exact
        # training never needs the input layer's gradient): (3 * per_sample - 784 * 16) MACs per sample
        assert d["macs_step"] == c["batch"] * (3 * per_sample - SIZES[0] * SIZES[1])
        assert d["s_epoch"] > 0 and d["gflops"] > 0 and d["gbs"] > 0
        assert sum(d["split"].values()) == pytest.approx(d["s_epoch"])
        # --fast-path auto: batch 1 runs fused; the memory bound counts 3 passes (SGD), 7 (Adam)
        assert c["path"] == ("fused" if c["batch"] == 1 else "reference")
        assert c["passes"] == {"sgd": 3, "adam": 7}[c["optimizer"]]
        assert c["weight_bytes"] == 4 * sum(a * b for a, b in zip(SIZES[:-1], SIZES[1:]))
        assert d["must_gbs"] > 0 and d["x_membound"] > 0
        assert len(r["launches"][0]["probe_gbs"]) == 4 + 1      # before each sub-window, and after
    assert "x of memory bound" in proc.stdout


def test_epoch_time_fast_path_off_times_the_reference_at_batch_1(tmp_path):
    out = tmp_path / "epoch.json"
    proc = run_script("epoch_time.py", *TINY, "--batch", "1", "--threads", "1", "--optimizer",
                      "adam", "--fast-path", "off", "--probes", "2", "--probe-mb", "4",
                      "--json", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (row,) = json.loads(out.read_text())["rows"]
    assert row["config"]["path"] == "reference"
    assert row["launches"][0]["phase_seconds"].get("fused", 0.0) == 0.0


def test_floor_replays_a_recorded_window_without_touching_the_run():
    """bench/_floor.py: the recorded sets are the fused steps' (DROPOUT keeps the units whose uniform
    is below p, the output layer all classes), and replaying every part changes no parameter."""
    import numpy as np
    sys.path.insert(0, BENCH)
    from _common import random_dataset
    from _floor import ALL, TIMED, Floor

    from npmlp import fastpath
    from npmlp.config import Config
    from npmlp.runner import build_state
    data = random_dataset(n=60, seed=3)
    cfg = Config(method="dropout", batch_size=1, optimizer="adam", hidden=(16, 12), seed=4,
                 dropout_keep=0.5)
    ts = build_state(cfg, data)
    runner = fastpath.make_runner(ts, cfg)
    before = [p.W.copy() for p in ts.params]
    order = np.arange(20, dtype=np.int64)
    state = ts.rng.bit_generator.state
    floor = Floor(runner, ts, data.train.X, data.train.y, order, max_steps=12)
    assert floor.n == 12 and runner.draw_seconds > 0          # Runner.run timed its draws
    after = [p.W.copy() for p in ts.params]
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))  # recording trained 12 steps
    g = np.random.Generator(type(ts.rng.bit_generator)())
    g.bit_generator.state = state
    for s in range(12):
        u = g.random(28)
        for l, (lo, hi) in enumerate(((0, 16), (16, 28))):
            kept = np.flatnonzero(u[lo:hi] < cfg.dropout_keep)
            K = floor.args["K"][s, l]
            assert K == kept.size and np.array_equal(floor.args["idx"][s, l, :K], kept)
        assert floor.args["K"][s, 2] == 10
    parts, total = floor.time_parts(reps=1)
    assert set(parts) == {name for name, _ in TIMED}       # differences of timings: sign is noise
    assert all(np.isfinite(v) for v in parts.values()) and np.isfinite(total)
    floor.replay(ALL)
    assert all(np.array_equal(a, p.W) for a, p in zip(after, ts.params))


def test_compare_torch_without_torch_says_how_to_install():
    proc = run_script("compare_torch.py", *TINY, prelude="sys.modules['torch'] = None")
    assert proc.returncode == 2
    assert "pip install torch==2.13.0" in proc.stderr


def import_compare_torch():
    pytest.importorskip("torch")
    sys.path.insert(0, BENCH)
    try:
        import compare_torch
    finally:
        sys.path.remove(BENCH)
    return compare_torch


def test_compare_torch_same_computation_and_alternating_pairs(capsys):
    """In-process (one torch import for the whole file): both batch paths of npmlp's optimiser
    (factored at batch 1, materialised at batch 5), SGD and Adam, checked and timed in pairs."""
    CT = import_compare_torch()
    args = CT.parse_args(TINY + ["--batch", "5", "1", "--optimizer", "sgd", "adam", "--pairs", "2"])
    launch = CT.run_launch(args)
    assert [(r["batch"], r["optimizer"]) for r in launch["results"]] == [
        (5, "sgd"), (5, "adam"), (1, "sgd"), (1, "adam")]
    for r in launch["results"]:
        assert r["equivalent"] and r["max_param_diff_float64"] <= CT.EQUIVALENCE_TOL
        assert len(r["pairs"]) == 2 and r["steps_per_epoch"] == 200 // r["batch"]
        assert all(p["speedup"] > 0 for p in r["pairs"])
    assert CT.print_report([launch], args)
    assert "speed-up: median over all 2 pairs" in capsys.readouterr().out


def test_the_equivalence_check_detects_a_different_computation(monkeypatch):
    """The float64 check must fail when the PyTorch side does not compute the same thing."""
    CT = import_compare_torch()
    args = CT.parse_args(TINY + ["--check-steps", "2"])
    data = CT.C.load_bench_data("random", 200)
    same_twin = CT.torch_twin
    monkeypatch.setattr(CT, "torch_twin", lambda params, cfg: same_twin(params, cfg.with_(eps=1e-4)))
    assert CT.equivalence_check(data, 5, 1, "adam", args) > CT.EQUIVALENCE_TOL


@pytest.mark.slow
def test_compare_torch_command_line(tmp_path):
    """The whole command as a user runs it: parent, one launch in a child process, JSON."""
    pytest.importorskip("torch")
    out = tmp_path / "cmp.json"
    proc = run_script("compare_torch.py", *TINY, "--batch", "1", "--optimizer", "adam",
                      "--pairs", "2", "--json", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (launch,) = json.loads(out.read_text())["launches"]
    assert launch["results"][0]["equivalent"]
    assert "speed-up: median over all 2 pairs" in proc.stdout


def test_bench_active_help_and_a_missing_file_are_one_message():
    """`python bench/bench_active.py --help` prints usage (it used to open a file named --help)."""
    proc = run_script("bench_active.py", "--help")
    assert proc.returncode == 0 and "headline" in proc.stdout and "pip install -e '.[bench]'" in proc.stdout
    proc = run_script("bench_active.py", "nofile.json")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--benchmark-json=nofile.json" in proc.stderr


def test_bench_active_batch_prints_both_tables():
    """bench/bench_active_batch.py on tiny layers: one row per case, with the union rows counted."""
    common = ["--layers", "784x40", "60x40", "--batch", "6", "--fractions", "0.1", "0.5",
              "--rounds", "1", "--reps", "1"]
    proc = run_script("bench_active_batch.py", *common)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = [r for r in proc.stdout.splitlines() if r.startswith("| 784x40") or r.startswith("| 60x40")]
    assert len(rows) == 4 and all(r.endswith("x |") for r in rows)
    proc = run_script("bench_active_batch.py", *common, "--update")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = [r.split("|") for r in proc.stdout.splitlines() if r.startswith("| 60x40")]
    assert len(rows) == 2 and all(0 < int(r[4]) <= 40 for r in rows)   # union rows of 40 units


def test_bench_adaptive_splits_the_fused_step():
    """bench/bench_adaptive.py on a tiny network: every step recorded, every part of the table."""
    proc = run_script("bench_adaptive.py", "--data", "random", "--samples", "200", "--hidden",
                      "16,12", "--steps", "20", "--rounds", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "784-16-12-10" in proc.stdout and "(20 recorded)" in proc.stdout
    for part in ("| step |", "| forward-all |", "| calibration |", "| kept floor |",
                 "| both, per step |", "| beyond"):
        assert part in proc.stdout, part


def test_alsh_epoch_runs_whole_epochs_on_the_real_rebuild_schedule():
    """bench/alsh_epoch.py: an ALSH epoch of 300 samples rebuilds at 100, 200, 300 (EDBT schedule)
    and at the epoch's end: 4 rebuilds, all steps on the fast path."""
    proc = run_script("alsh_epoch.py", "--data", "random", "--samples", "300", "--window", "20",
                      "--hidden", "16,12", "--rounds", "1", "--optimizer", "sgd")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    row = next(line for line in proc.stdout.splitlines() if line.startswith("| alsh-approx |"))
    assert row.split("|")[6].strip() == "4"


def test_alsh_epoch_at_batch_20_counts_samples_for_its_schedule():
    """At batch 20 the schedule counts samples too: 300 samples = 15 steps rebuild at 100, 200, 300
    and at the epoch's end (4), and the only baseline is STANDARD_M."""
    proc = run_script("alsh_epoch.py", "--batch", "20", "--data", "random", "--samples", "300",
                      "--window", "5", "--hidden", "16,12", "--rounds", "1", "--optimizer", "sgd")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "batch 20" in proc.stdout and "| exact-sgd |" not in proc.stdout
    row = next(line for line in proc.stdout.splitlines() if line.startswith("| alsh-approx |"))
    assert row.split("|")[6].strip() == "4"
