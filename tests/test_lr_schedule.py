"""Learning-rate schedules: the factor's values, and a scheduled run equal to a step-by-step replay in
which every step runs at a constant rate equal to that step's scheduled rate."""
import dataclasses
import math

import numpy as np
import pytest

from npmlp import engine
from npmlp.config import Config
from npmlp.optim import lr_factor
from npmlp.runner import build_state
from tests.conftest import make_blobs


def test_factor_values():
    assert lr_factor("constant", 0.7) == 1.0
    assert lr_factor("linear", 0.0) == 1.0 and lr_factor("linear", 0.75) == 0.25
    assert lr_factor("cosine", 0.0) == 1.0 and lr_factor("cosine", 0.5) == pytest.approx(0.5)
    assert lr_factor("cosine", 1.0) == pytest.approx(0.0, abs=1e-15)
    with pytest.raises(ValueError):
        lr_factor("step", 0.5)


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
@pytest.mark.parametrize("optimizer,batch_size", [("sgd", 1), ("sgd", 20), ("adam", 20),
                                                  ("adagrad", 7)])
def test_scheduled_run_equals_constant_rate_replay(schedule, optimizer, batch_size):
    cfg = Config(hidden=(7, 6), dtype="float64", epochs=2, seed=3, lr=1e-2, optimizer=optimizer,
                 batch_size=batch_size, lr_schedule=schedule)
    data = make_blobs(n_train=60)
    scheduled = engine.fit(build_state(cfg, data), cfg, data, lambda ts, m: None,
                           lambda ts: None, progress=False)

    replay = build_state(cfg, data)
    n = data.train.X.shape[0]
    total = cfg.epochs * math.ceil(n / batch_size)
    for _ in range(cfg.epochs):
        perm = replay.rng.permutation(n)
        replay.strategy.start_epoch(replay.epoch, n)
        for start in range(0, n, batch_size):
            rate = cfg.lr * lr_factor(schedule, replay.step / total)
            replay.optimizer.cfg = dataclasses.replace(cfg, lr=rate, lr_schedule="constant")
            idx = perm[start:start + batch_size]
            engine.train_step(replay, data.train.X[idx], data.train.y[idx])
        replay.strategy.end_epoch(replay.params)
        replay.epoch += 1
    assert scheduled.step == replay.step == total
    for a, b in zip(scheduled.params, replay.params):
        np.testing.assert_allclose(a.W, b.W, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(a.b, b.b, rtol=1e-12, atol=1e-15)


def test_schedule_changes_the_run(blobs):
    """Guards the test above against a schedule that is silently ignored."""
    runs = {}
    for schedule in ("constant", "linear"):
        cfg = Config(hidden=(7, 6), dtype="float64", epochs=1, seed=3, lr=1e-2,
                     lr_schedule=schedule)
        ts = engine.fit(build_state(cfg, blobs), cfg, blobs, lambda ts, m: None, lambda ts: None,
                        progress=False)
        runs[schedule] = ts.params[0].W
    assert not np.allclose(runs["constant"], runs["linear"])
