"""HOGWILD on the batch-1 fast path (npmlp/hogwild.py, `--hogwild T`).

T = 1 is the fused path's own call: bit-identical float64 runs (parameters, optimiser state, losses,
ledger, the generator's state). T = 2 races by design, so it is tested for what HOGWILD promises:
it trains (the loss falls, accuracy close to 1 thread), both workers take steps, it draws the same
random numbers, and a diverged loss stops the run. The switch's misuse is one clear UserError.
"""
import json

import numpy as np
import pytest

from npmlp import engine, fastpath, hogwild
from npmlp import config as config_module
from npmlp.config import Config, validate
from npmlp.errors import TrainingDiverged, UserError
from npmlp.runner import build_state
from npmlp.train import main
from tests.conftest import make_blobs
from tests.test_bench_scripts import run_script
from tests.test_fastpath import OPTIMISERS, SMALL, _assert_same_run, _data, _fit


@pytest.mark.parametrize("method", ["dropout", "standard"])
@pytest.mark.parametrize("optimizer,extra", OPTIMISERS)
def test_one_thread_is_the_fused_path_bit_for_bit(method, optimizer, extra):
    data = _data("float64")
    cfg = Config(method=method, dropout_keep=0.3, optimizer=optimizer, dtype="float64",
                 **{**SMALL, **extra}).with_(epochs=2)
    one, fused = _fit(cfg.with_(hogwild=1), data), _fit(cfg, data)
    assert one.ledger.times["fused"] > 0
    _assert_same_run(one, fused)
    assert one.rng.bit_generator.state == fused.rng.bit_generator.state


def test_the_runner_is_chosen_by_the_switch():
    data = _data("float32")
    cfg = Config(method="dropout", **SMALL)
    ts = build_state(cfg, data)
    assert type(fastpath.make_runner(ts, cfg)) is fastpath.Runner
    runner = fastpath.make_runner(ts, cfg.with_(hogwild=2))
    assert isinstance(runner, hogwild.HogwildRunner) and runner.T == 2
    runner.close()


HARD = dict(n_train=1200, noise=2.0, dim=30, classes=6)   # blobs that 1 epoch does not saturate


@pytest.mark.parametrize("method,optimizer", [("dropout", "adam"), ("standard", "sgd"),
                                              ("standard", "adam")])
def test_two_threads_train_like_one(method, optimizer):
    data = make_blobs(seed=5, **HARD)
    cfg = Config(method=method, optimizer=optimizer, dropout_keep=0.5, hidden=(64, 64), epochs=3,
                 seed=1, batch_size=1, lr=1e-3 if optimizer == "adam" else 1e-2)
    one, two = _fit(cfg, data), _fit(cfg.with_(hogwild=2), data)
    losses = [m["train_loss"] for m in two.history]
    assert losses[-1] < 0.8 * losses[0]
    acc1, acc2 = one.history[-1]["val_accuracy"], two.history[-1]["val_accuracy"]
    assert acc1 > 0.5 and abs(acc2 - acc1) < 0.05, (acc1, acc2)
    # the same uniforms were drawn (the workers read rows of the chunk's pre-drawn block)
    assert two.rng.bit_generator.state == one.rng.bit_generator.state
    assert two.ledger.samples == one.ledger.samples == 3 * 1200
    if method == "standard":        # every unit every step: the same work, whoever does it
        assert two.ledger.work == one.ledger.work


def test_both_workers_take_steps():
    data = _data("float32")
    cfg = Config(method="dropout", **SMALL, hogwild=2)
    ts = build_state(cfg, data)
    runner = fastpath.make_runner(ts, cfg)
    ts.perm, ts.pos = ts.rng.permutation(300), 0
    assert runner.run(ts, data.train.X, data.train.y, 300, 300) == 300
    assert runner.counts[0, 0] > 0                     # all the chunk's kept units, summed
    assert runner.workers[1]["counts"][0, 0] > 0       # of which the second worker's share
    assert runner.workers[1]["counts"][0, 0] < runner.counts[0, 0]
    assert ts.step == ts.pos == ts.ledger.samples == 300
    runner.close()


def test_a_diverged_loss_stops_a_hogwild_run():
    data = _data("float64")
    cfg = Config(method="dropout", dropout_keep=0.5, dtype="float64", **SMALL, hogwild=2)
    ts = build_state(cfg, data)
    ts.params[1].W[...] = np.inf
    with pytest.raises(TrainingDiverged, match="HOGWILD"):
        engine.fit(ts, cfg, data, lambda ts, m: None, lambda ts: None, progress=False)


@pytest.mark.parametrize("change,message", [
    ({"batch_size": 20}, "--batch-size 1"),
    ({"fast_path": "off"}, "--fast-path off"),
    ({"method": "alsh-approx"}, "standard and dropout only"),
    ({"method": "topk"}, "standard and dropout only"),
    ({"activation": "tanh"}, "ReLU only"),
    ({"hogwild": -1}, "an integer >= 0"),
])
def test_misuse_is_one_clear_message(change, message):
    cfg = Config(**{**SMALL, "method": "dropout", "hogwild": 2, **change})
    with pytest.raises(UserError, match=message):
        validate(cfg)


def test_more_threads_than_cores_is_refused(monkeypatch):
    monkeypatch.setattr(config_module, "available_cores", lambda: 2)
    validate(Config(**{**SMALL, "method": "dropout", "hogwild": 2}))
    with pytest.raises(UserError, match=r"may use 2 core\(s\).*--hogwild 2 or less"):
        validate(Config(**{**SMALL, "method": "dropout", "hogwild": 3}))


def test_a_run_without_a_fast_path_refuses_hogwild(monkeypatch):
    data = _data("float32")
    cfg = Config(method="dropout", **SMALL, hogwild=1)
    ts = build_state(cfg, data)
    monkeypatch.setattr(ts.strategy, "after_step", lambda ctx, params: None)
    with pytest.raises(UserError, match="needs the batch-1 fast path.*per-step hook"):
        fastpath.make_runner(ts, cfg)


def test_the_command_line_says_what_is_wrong(capsys):
    assert main(["--method", "dropout", "--batch-size", "20", "--hogwild", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --hogwild 2") and "--batch-size 1" in err and "Traceback" not in err


def test_the_benchmark_runs_every_row(tmp_path):
    out = tmp_path / "hogwild.json"
    proc = run_script("bench_hogwild.py", "--dataset", "random", "--samples", "300", "--hidden",
                      "16,12", "--steps", "40", "--warmup-steps", "5", "--rounds", "2",
                      "--json", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = json.loads(out.read_text())["rows"]
    assert [(r["method"], r["opt"], r["T"]) for r in rows] == [
        (m, o, t) for m in ("dropout", "standard") for o in ("adam", "sgd") for t in (1, 2)]
    assert all(len(r["s_epoch"]) == 2 and min(r["s_epoch"]) > 0 for r in rows)
    assert "| dropout | adam | 2 |" in proc.stdout and "load average" in proc.stdout
