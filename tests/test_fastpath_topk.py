"""TOPK on the batch-1 fast path (kernels/fused_topk.py) equals TOPK's readable reference path
(strategies/topk.py, optim_block.py): input-major blocks, lazy block optimiser state. The shared
helpers and the other methods' equalities are in test_fastpath.py."""
import numpy as np
import pytest

from kernels import fused_step as KS
from kernels import fused_topk as KFT
from npmlp import engine
from npmlp.config import Config
from npmlp.errors import TrainingDiverged
from npmlp.runner import build_state
from tests.test_fastpath import SMALL, _assert_same_run, _data, _pair


TOPK_OPTIMISERS = [("adam", {}), ("sgd", {}), ("sgd", {"momentum": 0.9, "lr": 1e-3}),
                   ("adagrad", {})]


def test_topk_kernel_equals_its_numpy_reference():
    """fused_topk_chunk (plain SGD, float64) against fused_topk_step_reference, step by step."""
    rng = np.random.default_rng(0)
    sizes, ks = [12, 9, 7, 4], [3, 2]
    WTs = [rng.standard_normal((i, o)) * 0.5 for i, o in zip(sizes, sizes[1:])]
    bs = [rng.standard_normal(o) * 0.1 for o in sizes[1:]]
    X, Y = rng.standard_normal((6, sizes[0])), rng.integers(0, 4, 6)
    X[X < -0.5] = 0                                  # sparse inputs: J < D_in on layer 1 too
    Wr, br = [W.copy() for W in WTs], [b.copy() for b in bs]
    losses = [KFT.fused_topk_step_reference(Wr, br, X[s], Y[s], ks, 0.05) for s in range(6)]
    loss_sum, counts = np.zeros(1), np.zeros((3, KS.N_COUNTS), np.int64)
    ws = KFT.make_workspace([W.T.shape for W in WTs], np.float64)
    done = KFT.fused_topk_chunk(KS.SGD, X, Y, np.arange(6), np.full(6, 0.05),
                                np.array([*ks, 4], np.int64), KS.as_list(WTs), KS.as_list(bs),
                                KS.as_list(WTs), KS.as_list(WTs), KS.as_list(bs), KS.as_list(bs),
                                KS.as_list(np.zeros(1, np.int64) for _ in WTs), 0.0, 0.9, 0.999,
                                1e-8, **ws, counts=counts, loss_sum=loss_sum)
    assert done == 6
    np.testing.assert_allclose(loss_sum[0], sum(losses), rtol=1e-12)
    for W, Wref, b, bref in zip(WTs, Wr, bs, br):
        np.testing.assert_allclose(W, Wref, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(b, bref, rtol=1e-12, atol=1e-14)
    assert list(counts[:, KS.CNT_K]) == [6 * 3, 6 * 2, 6 * 4]
    assert counts[0, KS.CNT_J] == np.count_nonzero(X)


@pytest.mark.parametrize("optimizer,extra", TOPK_OPTIMISERS)
def test_topk_float64_is_bit_identical(optimizer, extra):
    """Parameters, lazy block state (Adam's per-unit step counts too), losses, ledger work and the
    kept-unit statistics equal the reference path's (strategies/topk.py, optim_block.py)."""
    data = _data("float64")
    cfg = Config(method="topk", topk_active=0.3, optimizer=optimizer, dtype="float64",
                 **{**SMALL, **extra}).with_(epochs=2)
    fast, ref = _pair(cfg, data)
    assert fast.ledger.times["fused"] > 0 and fast.ledger.times["forward"] == 0   # no fallback
    assert ref.ledger.times["fused"] == 0
    _assert_same_run(fast, ref)
    assert all(p.W.flags.f_contiguous for p in fast.params)        # still input-major
    assert np.array_equal(fast.strategy.kept, ref.strategy.kept)
    assert fast.strategy.seen == ref.strategy.seen


def test_topk_divergence_on_the_fast_path_is_reported_by_the_reference_step():
    data = _data("float64")
    cfg = Config(method="topk", topk_active=0.5, dtype="float64", **SMALL)
    ts = build_state(cfg, data)
    ts.params[1].W[...] = np.inf
    with pytest.raises(TrainingDiverged, match=r"step 1 "):
        engine.fit(ts, cfg, data, lambda ts, m: None, lambda ts: None, progress=False)


def test_topk_batch_1_needs_its_fused_kernels():
    import kernels
    assert "fused_topk" in kernels.needed("topk", batch_size=1, fast_path="auto")
    assert "fused_topk" not in kernels.needed("topk", batch_size=1, fast_path="off")
    assert "fused_topk" not in kernels.needed("topk", batch_size=20, fast_path="auto")
