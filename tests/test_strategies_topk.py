"""TOPK (strategies/topk.py): exact limit, the kept set, frozen-selection gradients, the block
update with lazy state, the input-major layout, evaluation, checkpoints."""
import numpy as np
import pytest

from npmlp import checkpoint, engine
from npmlp.config import Config, validate
from npmlp.errors import UserError
from npmlp.layers import BlockGrad
from npmlp.runner import build_state
from npmlp.strategies import STRATEGIES
from npmlp.strategies.base import StepContext
from tests.conftest import make_blobs
from tests.strategy_helpers import assert_same_as_standard, gradient_check_frozen

BASE = dict(method="topk", hidden=(40, 30), dtype="float64", seed=3)


@pytest.fixture(scope="module")
def sparse_blobs():
    """Blobs with ~half the inputs zero, so layer 1 sees a sparse input like MNIST pixels."""
    data = make_blobs(dim=24)
    for split in (data.train, data.val, data.test):
        split.X[np.random.default_rng(1).random(split.X.shape) < 0.5] = 0
    return data


@pytest.mark.parametrize("n", [1, 5])
def test_all_units_kept_equals_standard(sparse_blobs, n):
    assert_same_as_standard(Config(**BASE, topk_active=1.0), sparse_blobs, n, rtol=1e-10)


def test_all_units_kept_trains_like_standard_with_sgd(sparse_blobs):
    """Plain SGD: an element outside the block has a zero gradient in STANDARD too."""
    cfg = Config(**BASE, topk_active=1.0, optimizer="sgd", lr=0.05)
    for batch in (1, 4):
        a, b = build_state(cfg, sparse_blobs), build_state(cfg.with_(method="standard"), sparse_blobs)
        X, y = sparse_blobs.train.X, sparse_blobs.train.y
        for i in range(0, 6 * batch, batch):
            la = engine.train_step(a, X[i:i + batch], y[i:i + batch])
            lb = engine.train_step(b, X[i:i + batch], y[i:i + batch])
            assert la == pytest.approx(lb, rel=1e-10)
        for p, q in zip(a.params, b.params):
            np.testing.assert_allclose(p.W, q.W, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(p.b, q.b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("n", [1, 4])
def test_gradient_check_with_the_selection_frozen(sparse_blobs, n):
    sels = gradient_check_frozen(Config(**BASE, topk_active=0.2), sparse_blobs, n)
    assert sels[0].shape == (n, 8) and sels[1].shape == (n, 6) and sels[2] is None


def test_kept_set_is_the_top_k_of_the_dense_preactivations_with_ties_and_zero_inputs():
    rng = np.random.default_rng(0)
    data = make_blobs(dim=16)
    cfg = Config(**BASE, topk_active=0.25)
    ts = build_state(cfg, data)
    st = ts.strategy
    W, b = ts.params[0]
    W[:, :] = rng.integers(-2, 3, W.shape)          # integer weights and inputs: exact sums, ties
    b[:] = rng.integers(-1, 2, b.shape)
    X = rng.integers(-1, 2, (6, 16)).astype(np.float64)
    X[0] = 0                                        # an all-zero input: z = b, ties everywhere
    k = st.k[0]
    for batch in (X[:1], X[1:2], X):
        out, cache = st.forward(0, batch, ts.params[0], StepContext(None, batch.shape[0], 1))
        z = batch @ W.T + b                         # the dense pre-activations
        for n in range(batch.shape[0]):
            kept = cache.sel[n]
            ref = np.argpartition(-z[n], k - 1)[:k]
            assert np.array_equal(np.sort(z[n, kept]), np.sort(z[n, ref]))       # same values
            assert np.array_equal(kept, np.sort(np.argsort(-z[n], kind="stable")[:k]))
            assert np.array_equal(np.flatnonzero(out[n]), np.intersect1d(kept, np.flatnonzero(z[n] > 0)))


def test_weights_and_optimiser_state_are_input_major_and_checkpoints_canonical(sparse_blobs,
                                                                               tmp_path):
    cfg = Config(**BASE, batch_size=1)
    ts = build_state(cfg, sparse_blobs)
    ref = build_state(cfg.with_(method="standard"), sparse_blobs)
    for p, q, st in zip(ts.params, ref.params, ts.optimizer.state):
        assert p.W.flags.f_contiguous and p.W.T.flags.c_contiguous     # W.T = the paper's W^k
        assert np.array_equal(p.W, q.W)                                # same values and shape
        assert st["m_W"].flags.f_contiguous and st["v_W"].flags.f_contiguous
    X, y = sparse_blobs.train.X, sparse_blobs.train.y
    for i in range(3):
        engine.train_step(ts, X[i:i + 1], y[i:i + 1])
    path = str(tmp_path / "c.npz")
    checkpoint.save(path, ts, cfg)
    with np.load(path) as z:
        assert z["param.0.W"].shape == (40, 24)
        np.testing.assert_array_equal(z["param.0.W"], ts.params[0].W)
    fresh = build_state(cfg, sparse_blobs)
    checkpoint.load_into(path, fresh)
    assert fresh.params[0].W.flags.f_contiguous
    for i in range(3, 6):   # resumed training is bit-identical
        assert engine.train_step(ts, X[i:i + 1], y[i:i + 1]) == engine.train_step(fresh, X[i:i + 1],
                                                                                    y[i:i + 1])
    for p, q in zip(ts.params, fresh.params):
        assert np.array_equal(p.W, q.W)


def test_adam_updates_only_the_block_with_per_unit_counts(sparse_blobs):
    """Two steps through the optimiser against a dense NumPy reference that updates the block."""
    cfg = Config(**BASE, batch_size=1, lr=0.01)
    ts = build_state(cfg, sparse_blobs)
    W0, b0 = ts.params[0].W.copy(), ts.params[0].b.copy()
    m, v = np.zeros_like(W0), np.zeros_like(W0)
    mb, vb = np.zeros_like(b0), np.zeros_like(b0)
    t = np.zeros(W0.shape[0], np.int64)
    rng = np.random.default_rng(5)
    for step in range(3):
        rows = np.sort(rng.choice(24, 7, replace=False))
        cols = np.array([1, 5, 9, 20]) if step != 1 else np.array([5, 6, 30])
        A, G = rng.standard_normal((1, 7)), rng.standard_normal((1, cols.shape[0]))
        grads = [BlockGrad(A, G, rows, cols, 24)] + [
            BlockGrad(np.zeros((1, 0)), np.zeros((1, 0)), np.zeros(0, np.int64),
                      np.zeros(0, np.int64), p.W.shape[1]) for p in ts.params[1:]]
        ts.optimizer.step(ts.params, grads, 0.01)
        t[cols] += 1                                 # per-unit step counts
        g = np.zeros_like(W0)
        g[np.ix_(cols, rows)] = G.T @ A
        gb = np.zeros_like(b0)
        gb[cols] = G[0]
        blk = np.zeros(W0.shape, bool)
        blk[np.ix_(cols, rows)] = True
        for P, M, V, gg, mask, tt in ((W0, m, v, g, blk, t[:, None]), (b0, mb, vb, gb,
                                                                       np.isin(np.arange(40), cols), t)):
            M[mask] = (0.9 * M + 0.1 * gg)[mask]
            V[mask] = (0.999 * V + 0.001 * gg * gg)[mask]
            tb = np.maximum(np.broadcast_to(tt, P.shape), 1)   # units never kept are masked out
            step_ = 0.01 / (1 - 0.9 ** tb)
            corr = 1 / np.sqrt(1 - 0.999 ** tb)
            P[mask] -= (step_ * M / (np.sqrt(V) * corr + 1e-8))[mask]
        np.testing.assert_allclose(ts.params[0].W, W0, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(ts.params[0].b, b0, rtol=1e-12, atol=1e-14)
    assert np.array_equal(ts.optimizer.state[0]["t_rows"], t)


def test_sparse_evaluation_applies_the_training_rule_and_dense_differs(sparse_blobs):
    cfg = Config(**BASE, topk_active=0.1)
    ts = build_state(cfg, sparse_blobs)
    X = sparse_blobs.test.X[:7]
    a = X
    for l, p in enumerate(ts.params):
        a, _ = ts.strategy.forward(l, a, p, StepContext(None, X.shape[0], 1))
    sparse = engine.predict_logits(ts.strategy, ts.params, X, 3)
    np.testing.assert_allclose(sparse, a, rtol=1e-10, atol=1e-12)
    dense = engine.predict_logits(STRATEGIES["topk"](cfg.with_(topk_eval="dense"), ts.params,
                                                     ts.ledger), ts.params, X, 3)
    std = engine.predict_logits(STRATEGIES["standard"](cfg, ts.params, ts.ledger), ts.params, X, 3)
    np.testing.assert_allclose(dense, std)
    assert not np.allclose(dense, sparse)


def test_ledger_counts_the_sparse_scoring_and_the_selection(sparse_blobs):
    cfg = Config(**{**BASE, "dtype": "float32"}, batch_size=1)
    ts = build_state(cfg, sparse_blobs)
    x = sparse_blobs.train.X[:1].astype(np.float32)
    engine.train_step(ts, x, sparse_blobs.train.y[:1])
    J = np.count_nonzero(x)
    assert ts.ledger.work[(0, "forward")][0] == J * 40              # J inputs x all 40 units
    assert 0 < ts.ledger.work[(1, "forward")][0] <= ts.strategy.k[0] * 30   # <= k inputs non-zero
    assert ts.ledger.work[(0, "overhead")][1] > 0                   # the selection is recorded
    assert ts.ledger.compute_reduction() > 0.5


def test_dense_optimizer_state_is_refused():
    with pytest.raises(UserError, match="optimizer-state"):
        validate(Config(method="topk", optimizer_state="dense"), tuple(STRATEGIES))
    with pytest.raises(UserError, match="topk-active"):
        validate(Config(method="topk", topk_active=0.0), tuple(STRATEGIES))
