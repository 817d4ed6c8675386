"""DROPOUT and ADAPTIVE-DROPOUT: exact limits, frozen-choice gradients, keep rates, training."""
import numpy as np
import pytest

from npmlp import engine
from npmlp.config import Config
from npmlp.runner import build_state
from npmlp.strategies.base import StepContext
from kernels.standout import standout_keep
from tests.strategy_helpers import assert_same_as_standard, gradient_check_frozen

BASE = dict(hidden=(9, 8), dtype="float64", seed=1)


@pytest.mark.parametrize("n", [1, 4])
@pytest.mark.parametrize("scaling", ["inverted", "classic"])
def test_dropout_keep_one_is_standard(blobs, n, scaling):
    cfg = Config(method="dropout", dropout_keep=1.0, dropout_scaling=scaling, **BASE)
    assert_same_as_standard(cfg, blobs, n)


@pytest.mark.parametrize("n", [1, 4])
def test_standout_keep_forced_to_one_is_standard(blobs, n):
    cfg = Config(method="adaptive-dropout", standout_alpha=0.0, standout_beta=60.0,
                 standout_target_keep=0.0, **BASE)
    assert_same_as_standard(cfg, blobs, n)


@pytest.mark.parametrize("method,extra", [
    ("dropout", {"dropout_keep": 0.5}),
    ("dropout", {"dropout_keep": 0.5, "dropout_scaling": "classic"}),
    ("adaptive-dropout", {"standout_target_keep": 0.5}),
    ("adaptive-dropout", {"standout_target_keep": 0.0, "standout_beta_mode": "per_weight",
                          "standout_beta": 0.1}),
])
@pytest.mark.parametrize("n", [1, 3])
def test_gradients_with_the_choice_frozen(blobs, method, extra, n):
    cfg = Config(method=method, activation="tanh", **{**BASE, **extra})
    sels = gradient_check_frozen(cfg, blobs, n)
    if n == 1:
        assert 0 < len(sels[0].idx) < 9  # some units dropped, some kept: the check is not trivial


def test_batch1_computes_only_kept_rows(blobs):
    cfg = Config(method="dropout", dropout_keep=0.25, **{**BASE, "hidden": (40, 40)})
    ts = build_state(cfg, blobs)
    _, _, caches = engine.forward_backward(ts.strategy, ts.params, blobs.train.X[:1],
                                           blobs.train.y[:1], ts.rng)
    k1, k2 = len(caches[0].sel.idx), len(caches[1].sel.idx)
    j2 = np.count_nonzero(caches[1].x)  # kept units of layer 1 that are non-zero after ReLU
    fwd = [int(ts.ledger.totals("forward", l)[0]) for l in range(3)]
    assert fwd == [k1 * 20, k2 * j2, 4 * np.count_nonzero(caches[2].x)]
    ts.ledger.samples = 1  # train_step counts samples; forward_backward alone does not
    assert ts.ledger.compute_reduction() > 0.5


def test_dropout_keep_rate_and_expected_activation(rng):
    from types import SimpleNamespace as NS
    cfgs = {s: Config(method="dropout", dropout_keep=0.2, dropout_scaling=s, hidden=(500,),
                      dtype="float64") for s in ("inverted", "classic")}
    data = NS(train=NS(X=np.ones((1, 3))), num_classes=2)
    x = rng.random((1, 3))
    means = {}
    for scaling, cfg in cfgs.items():
        ts = build_state(cfg, data)
        layer = ts.params[0]
        ctx = StepContext(rng, 1, 0)
        outs = np.array([ts.strategy.forward(0, x, layer, ctx)[0][0] for _ in range(400)])
        kept = (outs != 0).mean()
        # 400 x 500 Bernoulli(0.2) draws (ReLU zeros aside): std of the mean ~ 0.0009
        active = (x @ layer.W.T + layer.b)[0] > 0
        assert abs((outs[:, active] != 0).mean() - 0.2) < 0.005, kept
        train_mean = outs.mean(axis=0)
        eval_out = ts.strategy.eval_forward(0, x, layer)[0]
        means[scaling] = (train_mean, eval_out)
        # E[train activation] = eval activation. Per unit the Monte-Carlo mean of 400 draws has a
        # relative std of sqrt(0.8 / (0.2 * 400)) = 0.1; averaged over ~250 active units ~0.006.
        ratio = np.mean(train_mean[active] / eval_out[active])
        assert abs(ratio - 1) < 0.03
    # inverted and classic differ by exactly the factor p in both phases
    np.testing.assert_allclose(means["classic"][1], 0.2 * means["inverted"][1], rtol=1e-12)


def test_calibrated_keep_hits_the_target(rng):
    u = rng.standard_normal((5, 1000)) * 3
    beta, keep = np.empty(5), np.empty((5, 1000))
    standout_keep(u, np.ones(5), 0.05, 0.0, beta, keep, np.empty(5), np.empty(1000))
    np.testing.assert_allclose(keep.mean(axis=1), 0.05, atol=0.05 * 1e-3)
    np.testing.assert_allclose(keep, 1 / (1 + np.exp(-(u + beta[:, None]))), rtol=1e-15)


@pytest.mark.parametrize("method,extra", [
    ("dropout", {"dropout_keep": 0.5}),
    ("adaptive-dropout", {"standout_target_keep": 0.5}),
])
@pytest.mark.parametrize("batch_size,lr", [(1, 3e-3), (10, 1e-2)])
def test_trains_blobs(blobs, method, extra, batch_size, lr):
    cfg = Config(method=method, batch_size=batch_size, lr=lr, epochs=2,
                 **{**BASE, "hidden": (64, 64), **extra})
    ts = build_state(cfg, blobs)
    engine.fit(ts, cfg, blobs, lambda ts, m: None, lambda ts: None, progress=False)
    acc, _, _ = engine.evaluate(ts.strategy, ts.params, blobs.test.X, blobs.test.y, 100)
    assert acc > 0.85
    if batch_size == 1:
        assert ts.ledger.compute_reduction() > 0.2
