"""The engine's training step equals the plain-NumPy reference step (npmlp/reference.py), for every
optimiser at batch 1 and 20 in float64, to rounding. The engine's step here is engine.train_step
itself (through api.Net.step), with whatever fast path it picks: the fused batch-1 SGD backward, the
one-GEMM mini-batch SGD update, the factored and materialised Adam/Adagrad kernels."""
import numpy as np
import pytest

from npmlp import api, reference

SIZES = (6, 5, 4, 3)          # D_0, two hidden layers, C
OPTIMISERS = [("sgd", {"momentum": 0.0}), ("sgd", {"momentum": 0.9}), ("adam", {}),
              ("adagrad", {})]


def _sample(n, seed=3):
    rng = np.random.default_rng(seed)
    return rng.random((n, SIZES[0])), rng.integers(0, SIZES[-1], n)


@pytest.mark.parametrize("batch", [1, 20])
@pytest.mark.parametrize("optimizer,hyper", OPTIMISERS, ids=["sgd", "sgd-momentum", "adam", "adagrad"])
def test_engine_step_equals_reference(optimizer, hyper, batch):
    net = api.Net(SIZES[0], SIZES[-1], hidden=SIZES[1:-1], dtype="float64", optimizer=optimizer,
                  lr=0.05, eps=1e-8, **hyper)
    Ws = [p.W.copy() for p in net.params]
    bs = [p.b.copy() for p in net.params]
    state = reference.init_state(optimizer, Ws + bs)
    cfg = net.cfg
    for t in range(3):            # three steps: momentum, Adam's bias corrections and state matter
        x, y = _sample(batch, seed=t)
        loss = net.step(x, y)
        ref_loss = reference.step(Ws, bs, x, y, state, optimizer, cfg.lr, cfg.activation,
                                  momentum=cfg.momentum, beta1=cfg.beta1, beta2=cfg.beta2,
                                  eps=cfg.eps)
        assert loss == pytest.approx(ref_loss, rel=1e-12)
        for p, W, b in zip(net.params, Ws, bs):
            np.testing.assert_allclose(p.W, W, rtol=1e-12, atol=1e-13)
            np.testing.assert_allclose(p.b, b, rtol=1e-12, atol=1e-13)
    # the step moved the weights: the comparison above is not between two untouched copies
    assert not np.allclose(net.params[0].W, api.Net(SIZES[0], SIZES[-1], hidden=SIZES[1:-1],
                                                    dtype="float64").params[0].W)


def test_reference_gradient_is_the_numerical_gradient():
    """Eq. 1 as written in reference.backprop, against central differences of reference.nll."""
    rng = np.random.default_rng(0)
    Ws = [rng.standard_normal((d_out, d_in)) for d_in, d_out in zip(SIZES[:-1], SIZES[1:])]
    bs = [rng.standard_normal(d) * 0.1 for d in SIZES[1:]]
    x, y = _sample(7)
    _, dWs, dbs, *_ = reference.backprop(Ws, bs, x, y)

    def loss():
        return reference.nll(reference.forward(Ws, bs, x)[0][-1], y)
    for p, g in zip(Ws + bs, dWs + dbs):
        np.testing.assert_allclose(g, reference.numerical_gradient(loss, p), rtol=1e-6, atol=1e-8)


def test_traced_step_is_the_engine_step():
    """api.Net.step(trace=True) (the explain command's step) lands on the same weights as the
    engine's own train_step."""
    x, y = _sample(20)
    a = api.Net(6, 3, hidden=(5, 4), dtype="float64", optimizer="adam")
    b = api.Net(6, 3, hidden=(5, 4), dtype="float64", optimizer="adam")
    tr = a.step(x, y, trace=True)
    loss = b.step(x, y)
    assert tr.loss == pytest.approx(loss, rel=1e-12)
    for p, q, g, e in zip(a.params, b.params, tr.grads, tr.exact):
        np.testing.assert_allclose(p.W, q.W, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(g.W, e.W, rtol=1e-10, atol=1e-14)
