"""Plain SGD on an exact mini-batch updates W with one in-place GEMM; it must equal forming the
gradient and applying it (the path every other optimiser and momentum take), and the ledger must
count the same multiply-adds."""
import numpy as np
import pytest

from npmlp import engine
from npmlp.config import Config
from npmlp.optim import SGD
from npmlp.runner import build_state
from tests.conftest import make_blobs


def _train(gemm, dtype, hidden, batch, steps=6):
    data = make_blobs(dim=40, dtype=np.dtype(dtype))
    cfg = Config(hidden=hidden, dtype=dtype, seed=5, optimizer="sgd", lr=0.05, batch_size=batch)
    ts = build_state(cfg, data)
    ts.optimizer.fused = gemm        # this instance only: the one-pass paths on or off
    for i in range(steps):
        sl = slice(i * batch, (i + 1) * batch)
        engine.train_step(ts, data.train.X[sl], data.train.y[sl])
    return ts


@pytest.mark.parametrize("dtype,tol", [("float64", 1e-12), ("float32", 1e-5)])
@pytest.mark.parametrize("batch", [3, 20])
def test_gemm_update_equals_materialised_update(dtype, tol, batch):
    fused, plain = _train(True, dtype, (64, 48), batch), _train(False, dtype, (64, 48), batch)
    for a, b in zip(fused.params, plain.params):
        np.testing.assert_allclose(a.W, b.W, rtol=tol, atol=tol)
        np.testing.assert_allclose(a.b, b.b, rtol=tol, atol=tol)
    for phase in ("forward", "backward-input", "backward-weight"):
        assert fused.ledger.totals(phase)[0] == plain.ledger.totals(phase)[0]
    assert fused.ledger.totals("update")[0] == plain.ledger.totals("update")[0]


def test_gemm_update_moves_the_weights_by_the_gradient():
    """Guards against a GEMM that writes into a copy: W must change in place."""
    ts = _train(True, "float64", (16,), 10, steps=0)
    before = [p.W.copy() for p in ts.params]
    data = make_blobs(dim=40)
    engine.train_step(ts, data.train.X[:10], data.train.y[:10])
    assert all(not np.array_equal(b, p.W) for b, p in zip(before, ts.params))


def test_gemm_path_is_taken_only_where_it_applies(monkeypatch):
    taken = []
    real = SGD._update_weights_in_one_pass

    def spy(self, *a):
        done = real(self, *a)
        taken.append(done)
        return done
    monkeypatch.setattr(SGD, "_update_weights_in_one_pass", spy)
    _train(True, "float32", (16,), 20, steps=2)
    assert taken == [True] * (2 * 2)                 # 2 steps x 2 layers
    taken.clear()
    _train(True, "float32", (16,), 1, steps=2)       # batch 1: the fused backward kernel instead
    assert not any(taken)
