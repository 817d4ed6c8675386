"""ADAPTIVE-DROPOUT on the batch-1 fast path (kernels/fused_adaptive.py) equals its readable
reference path (strategies/adaptive_dropout.py): bit for bit in float64, both beta modes, calibrated
and fixed beta, every optimiser. Both paths compute the keep probabilities with the same compiled
kernel (kernels/standout.py), so no draw near its threshold can differ; the kernel's agreement with
its NumPy reference is tested in test_standout.py."""
import numpy as np
import pytest

from kernels import fused_adaptive as KFA
from kernels import fused_step as KS
from npmlp import fastpath
from npmlp.config import Config
from npmlp.runner import build_state
from tests.test_fastpath import OPTIMISERS, SMALL, _assert_same_run, _data, _pair, tiny_network

MODES = [{"standout_target_keep": 0.3},
         {"standout_target_keep": 0.3, "standout_beta_mode": "per_weight", "standout_beta": -0.01},
         {"standout_target_keep": 0.0, "standout_alpha": 0.5, "standout_beta": -0.5},
         {"standout_target_keep": 0.0, "standout_beta_mode": "per_weight", "standout_beta": -0.05}]


def test_adaptive_kernel_equals_its_numpy_reference():
    """fused_adaptive_chunk (plain SGD, float64) against fused_adaptive_step_reference, step by
    step, per_weight beta calibrated (the betas carried from step to step)."""
    Ws, bs, X, Y, u = tiny_network()
    Wr, br, betas_r = [W.copy() for W in Ws], [b.copy() for b in bs], np.zeros(3)
    losses = [KFA.fused_adaptive_step_reference(Wr, br, X[s], Y[s], u[s], 1.0, betas_r, 0.4, True,
                                                0.05) for s in range(6)]
    loss_sum, counts, betas = np.zeros(1), np.zeros((3, KS.N_COUNTS), np.int64), np.zeros(3)
    ws = KFA.make_workspace(Ws, np.float64)
    zeros = [KS.as_list(np.zeros((1, 1)) for _ in Ws)] * 2
    done = KFA.fused_adaptive_chunk(
        KS.SGD, True, X, Y, np.arange(6), u, np.full(6, 0.05), np.zeros((6, 2)), np.ones(1),
        np.ones(1), KS.as_list(Ws), KS.as_list(bs), KS.as_list(b[:, None] for b in bs),
        KS.as_list(Ws), KS.as_list(Ws), zeros[0], zeros[1],
        KS.as_list(np.zeros(1, np.int64) for _ in Ws), 1.0, 0.4, True, betas, 0.0, 0.9, 0.999,
        1 - 0.9, 1 - 0.999, 1e-8, **ws, counts=counts, loss_sum=loss_sum)
    assert done == 6
    np.testing.assert_allclose(loss_sum[0], sum(losses), rtol=1e-12)
    np.testing.assert_allclose(betas, betas_r, rtol=1e-12)
    for W, Wref, b, bref in zip(Ws, Wr, bs, br):
        np.testing.assert_allclose(W, Wref, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(b, bref, rtol=1e-12, atol=1e-14)
    assert 0 < counts[0, KS.CNT_K] < 6 * 9 and counts[2, KS.CNT_K] == 6 * 4


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("optimizer,extra", OPTIMISERS)
def test_adaptive_float64_is_bit_identical(optimizer, extra, mode):
    """Parameters, optimiser state, losses, ledger work, kept-unit statistics, the strategy's betas
    and the generator's state equal the reference path's, over two epochs (an evaluation between:
    it calibrates beta on the validation batch, which the second epoch starts from)."""
    data = _data("float64")
    cfg = Config(method="adaptive-dropout", optimizer=optimizer, dtype="float64",
                 **{**SMALL, **extra, **mode}).with_(epochs=2)
    fast, ref = _pair(cfg, data)
    assert fast.ledger.times["fused"] > 0 and fast.ledger.times["forward"] == 0   # no fallback
    assert ref.ledger.times["fused"] == 0
    _assert_same_run(fast, ref)
    assert np.array_equal(fast.strategy.beta, ref.strategy.beta)
    assert np.array_equal(fast.strategy.kept, ref.strategy.kept)
    assert fast.rng.bit_generator.state == ref.rng.bit_generator.state
    kept = fast.history[-1]["stat_active_l1"] / SMALL["hidden"][0]
    assert 0 < kept < 1


def test_adaptive_float32_agrees_to_rounding():
    """float32: the loss's exp/log differ from NumPy's SIMD ones in the last bit (as for DROPOUT),
    so the runs agree to rounding over a short run (a flipped draw would show as a large change)."""
    data = _data("float32")
    cfg = Config(method="adaptive-dropout", standout_target_keep=0.3, dtype="float32",
                 **{**SMALL, "optimizer": "adam"})
    fast, ref = _pair(cfg, data)
    for a, b in zip(fast.params, ref.params):
        np.testing.assert_allclose(a.W, b.W, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(fast.strategy.beta, ref.strategy.beta, rtol=1e-4)


def test_a_step_given_back_leaves_betas_and_generator_as_before_it():
    """A non-finite loss ends the chunk before that step: its calibrations (which moved the betas)
    are undone and its uniforms given back, so the reference step that follows starts where the
    reference path would."""
    data = _data("float64")
    cfg = Config(method="adaptive-dropout", standout_target_keep=0.3, dtype="float64", **SMALL)
    ts = build_state(cfg, data)
    runner = fastpath.make_runner(ts, cfg)
    X, y = data.train.X, data.train.y
    ts.perm, ts.pos = ts.rng.permutation(X.shape[0]), 0
    assert runner.run(ts, X, y, 5, 10) == 5
    beta, state = ts.strategy.beta.copy(), ts.rng.bit_generator.state
    ts.params[1].W[...] = np.inf              # layer 2's z: its calibration moves beta to NaN
    assert runner.run(ts, X, y, 5, 10) == 0
    assert np.array_equal(ts.strategy.beta, beta) and ts.rng.bit_generator.state == state
    assert ts.pos == 5 and ts.step == 5


def test_adaptive_has_a_fast_path_and_needs_its_kernels():
    import kernels
    cfg = Config(method="adaptive-dropout", **SMALL)
    assert fastpath.why_not(build_state(cfg, _data("float32")), cfg) is None
    assert {"fused_adaptive", "standout"} <= set(
        kernels.needed("adaptive-dropout", batch_size=1, fast_path="auto"))
    assert "fused_adaptive" not in kernels.needed("adaptive-dropout", batch_size=20,
                                                  fast_path="auto")
    assert "standout" in kernels.needed("adaptive-dropout", batch_size=20, fast_path="auto")
