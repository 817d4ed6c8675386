"""ALSH-APPROX: exact limit, frozen-choice gradients, active-set sizes, rebuilds, recall, resume."""
import numpy as np
import pytest

from npmlp import checkpoint, engine
from npmlp.config import Config
from npmlp.runner import build_state
from npmlp.strategies.base import StepContext
from npmlp.strategies.alsh_schedule import RebuildSchedule
from tests.strategy_helpers import assert_same_as_standard, gradient_check_frozen

BASE = dict(method="alsh-approx", hidden=(40, 30), dtype="float64", seed=2, alsh_recall_every=0)


@pytest.mark.parametrize("n", [1, 3])
def test_every_unit_active_is_standard(blobs, n):
    assert_same_as_standard(Config(alsh_active=1.0, **BASE), blobs, n)


def test_every_unit_active_trains_like_standard(blobs):
    """Many steps, not one: the tables, schedule and sparse optimiser path change nothing."""
    losses = {}
    for method in ("alsh-approx", "standard"):
        cfg = Config(**{**BASE, "method": method}, alsh_active=1.0, batch_size=1, epochs=1,
                     limit=0)
        ts = build_state(cfg, blobs)
        engine.fit(ts, cfg, blobs, lambda ts, m: None, lambda ts: None, progress=False)
        losses[method] = (ts.history[0]["train_loss"], [p.W.copy() for p in ts.params])
    assert losses["alsh-approx"][0] == pytest.approx(losses["standard"][0], rel=1e-9)
    for a, b in zip(losses["alsh-approx"][1], losses["standard"][1]):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("n", [1, 2])
def test_gradients_with_the_active_sets_frozen(blobs, n):
    cfg = Config(activation="tanh", alsh_active=0.25, **BASE)
    sels = gradient_check_frozen(cfg, blobs, n)
    if n == 1:
        assert 10 <= len(sels[0].idx) < 40


@pytest.mark.parametrize("active", [0.05, 0.1, 0.25])
def test_edbt_policy_respects_tau(blobs, active):
    cfg = Config(alsh_active=active, **{**BASE, "hidden": (200,)})
    ts = build_state(cfg, blobs)
    tau = int(active * 200)
    for i in range(30):
        _, c = ts.strategy.forward(0, blobs.train.X[i:i + 1], ts.params[0],
                                   StepContext(ts.rng, 1, 0))
        assert tau <= len(c.sel.idx) <= 2 * tau - 1
        assert len(np.unique(c.sel.idx)) == len(c.sel.idx)


def test_zero_query_falls_back_to_random_units(blobs):
    cfg = Config(alsh_active=0.1, **{**BASE, "hidden": (100,)})
    ts = build_state(cfg, blobs)
    _, c = ts.strategy.forward(0, np.zeros((1, 20)), ts.params[0], StepContext(ts.rng, 1, 0))
    assert len(c.sel.idx) == 10


def test_rebuild_after_weight_change_changes_buckets(blobs):
    cfg = Config(**BASE)
    ts = build_state(cfg, blobs)
    ix = ts.strategy.index[0]
    before = ix.codes.copy()
    ts.params[0].W[...] = np.random.default_rng(9).standard_normal(ts.params[0].W.shape)
    ts.strategy.rebuild_all(ts.params)
    assert (ix.codes != before).mean() > 0.2


def test_edbt_schedule_counts():
    s = RebuildSchedule("edbt")
    due = [s.due(b, b, 1, 0) for b in range(1, 20_001)]
    assert sum(due[:10_000]) == 100 and sum(due[10_000:]) == 10     # 100..10,000 step 100; then 1,000s
    s = RebuildSchedule("edbt")
    assert s.due(120, 120, 40, 0) and not s.due(160, 160, 40, 0)    # a batch that steps over a mark
    s = RebuildSchedule("exp_decay", every=10, growth=2.0)
    assert [b for b in range(1, 200) if s.due(b, b, 1, 0)] == [10, 30, 70, 150]


def test_recall_beats_random_after_training(blobs):
    cfg = Config(**{**BASE, "hidden": (200, 200), "alsh_active": 0.1, "batch_size": 1,
                    "alsh_recall_every": 1, "alsh_transform": "simple_lsh",
                    "alsh_select": "topfreq", "alsh_bits": 4, "alsh_tables": 16})
    ts = build_state(cfg, blobs)
    engine.fit(ts, cfg.with_(epochs=1), blobs, lambda ts, m: None, lambda ts: None, progress=False)
    recall = ts.history[0]["stat_recall_l1"]
    assert recall > 0.2  # random selection of the same size recalls 0.1 (tau / units)


def test_resume_is_bit_identical(blobs, tmp_path):
    import os
    import signal
    cfg = Config(**{**BASE, "batch_size": 1, "epochs": 2, "alsh_active": 0.2})

    def run(interrupt=None, path=None):
        ts = build_state(cfg, blobs)
        if interrupt:
            hook = ts.strategy.after_step

            def after(ctx, params):
                hook(ctx, params)
                if ctx.step == interrupt:
                    os.kill(os.getpid(), signal.SIGINT)
            ts.strategy.after_step = after
        engine.fit(ts, cfg, blobs, lambda ts, m: None, lambda ts: checkpoint.save(path, ts, cfg),
                   progress=False)
        return ts
    full = run()
    path = str(tmp_path / "c.npz")
    with pytest.raises(engine.Interrupted):
        run(interrupt=777, path=path)
    resumed = build_state(cfg, blobs)
    checkpoint.load_into(path, resumed)
    engine.fit(resumed, cfg, blobs, lambda ts, m: None, lambda ts: None, progress=False)
    for a, b in zip(full.params, resumed.params):
        np.testing.assert_array_equal(a.W, b.W)


def test_trains_blobs():
    from tests.conftest import make_blobs
    blobs = make_blobs(dtype=np.float32)
    cfg = Config(**{**BASE, "hidden": (64, 64), "alsh_active": 0.25, "batch_size": 1,
                    "epochs": 2, "lr": 3e-3, "dtype": "float32"})
    ts = build_state(cfg, blobs)
    engine.fit(ts, cfg, blobs, lambda ts, m: None, lambda ts: None, progress=False)
    acc, _, _ = engine.evaluate(ts.strategy, ts.params, blobs.test.X, blobs.test.y, 100)
    assert acc > 0.85
    assert ts.ledger.compute_reduction() > 0.5


def test_settings_the_hash_kernels_reject_are_a_user_error(blobs):
    """kernels/ raises ValueError (it knows nothing of npmlp); the strategy names the flags."""
    from npmlp.errors import UserError
    cfg = Config(**{**BASE, "alsh_hash": "dwta", "alsh_bits": 30})
    with pytest.raises(UserError, match="--alsh-hash dwta --alsh-bits 30.*K\\*bin_bits <= 30"):
        build_state(cfg, blobs)
