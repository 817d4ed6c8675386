"""Shared checks for the sampling strategies: exact limits and frozen-choice gradient checks."""
import numpy as np

from npmlp import engine
from npmlp.params import pack, unpack
from npmlp.runner import build_state
from tests.gradcheck import numerical_gradient, rel_error


def dense_grads(grads, params):
    return [a for g, p in zip(grads, params) for a in g.dense(p.W.shape[0])]


def loss_and_grads(cfg, data, n, seed=0):
    """One forward/backward of a fresh network on the first n samples."""
    ts = build_state(cfg, data)
    x, y = data.train.X[:n], data.train.y[:n]
    loss, grads, caches = engine.forward_backward(ts.strategy, ts.params, x, y,
                                                  np.random.default_rng(seed))
    return loss, dense_grads(grads, ts.params), caches, ts


def assert_same_as_standard(cfg, data, n, rtol=1e-12):
    loss, grads, _, _ = loss_and_grads(cfg, data, n)
    ref_loss, ref_grads, _, _ = loss_and_grads(cfg.with_(method="standard"), data, n)
    assert abs(loss - ref_loss) <= rtol * abs(ref_loss)
    for g, r in zip(grads, ref_grads):
        np.testing.assert_allclose(g, r, rtol=rtol, atol=rtol * np.abs(r).max())


def gradient_check_frozen(cfg, data, n, tol=1e-6):
    """Numerical gradient of the loss with the strategy's random choice frozen (sel=)."""
    loss, grads, caches, ts = loss_and_grads(cfg, data, n)
    sels = [c.sel for c in caches]
    x, y = data.train.X[:n], data.train.y[:n]
    arrays = [a for p in ts.params for a in p]
    flat = pack(arrays)

    def f():
        for dst, src in zip(arrays, unpack(flat, arrays)):
            dst[...] = src
        return engine.forward_backward(ts.strategy, ts.params, x, y, None, sels=sels)[0]
    numeric = numerical_gradient(f, flat)
    assert rel_error(pack(grads), numeric) < tol
    return sels
