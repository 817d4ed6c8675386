"""The fused batch-1 fast path (npmlp/fastpath.py, kernels/fused_step.py) equals the reference path.

float64 DROPOUT: bit-identical parameters, optimiser state, losses, ledger and statistics (the same
kernels on the same numbers, the loss summed in NumPy's order). float32: to rounding (NumPy's SIMD
float32 exp/log differ from libm's in the last bit). STANDARD: to rounding (the reference's dense
products are BLAS calls, the fused step's are the 4-row dot kernels).
"""
import os
import signal

import numpy as np
import pytest

from kernels import fused_loss as FL
from kernels import fused_lsh as FLSH
from kernels import fused_step as KS
from kernels import update as KU
from npmlp import checkpoint, engine, fastpath
from npmlp.config import Config
from npmlp.errors import TrainingDiverged
from npmlp.runner import build_state
from tests.conftest import make_blobs

SMALL = dict(hidden=(30, 20), epochs=1, seed=3, batch_size=1, lr=1e-2)
OPTIMISERS = [("sgd", {}), ("sgd", {"momentum": 0.9, "lr": 1e-3}), ("adam", {"optimizer_state": "sparse"}),
              ("adam", {"optimizer_state": "dense"}), ("adagrad", {})]


def _data(dtype):
    return make_blobs(n_train=300, dtype=np.dtype(dtype))


def _fit(cfg, data, **kw):
    ts = build_state(cfg, data)
    engine.fit(ts, cfg, data, lambda ts, m: None, lambda ts: None, progress=False, **kw)
    return ts


def _pair(cfg, data):
    return _fit(cfg, data), _fit(cfg.with_(fast_path="off"), data)


def _state(ts):
    return {k: v for k, v in ts.optimizer.state_arrays().items()}


def _assert_same_run(fast, ref):
    """Bit for bit the same run: parameters, optimiser state, the epoch history (its timings
    aside) and the ledger's work."""
    for a, b in zip(fast.params, ref.params):
        assert np.array_equal(a.W, b.W) and np.array_equal(a.b, b.b)
    sa, sb = _state(fast), _state(ref)
    assert sa.keys() == sb.keys()
    for k in sa:
        assert np.array_equal(sa[k], sb[k]), k
    strip = [{k: v for k, v in m.items() if k != "seconds"} for m in fast.history]
    assert strip == [{k: v for k, v in m.items() if k != "seconds"} for m in ref.history]
    assert fast.ledger.work == ref.ledger.work and fast.ledger.samples == ref.ledger.samples


def test_pcg64_draws_a_chunk_as_the_reference_draws_its_steps():
    a, b = np.random.default_rng(7), np.random.default_rng(7)
    chunk = a.random(5 * 30)
    steps = np.concatenate([b.random(d) for _ in range(5) for d in (10, 12, 8)])
    assert np.array_equal(chunk, steps)
    assert a.bit_generator.state == b.bit_generator.state


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_loss_sum_follows_numpys_summation_order(dtype):
    rng = np.random.default_rng(1)
    for n in range(1, fastpath.MAX_CLASSES + 1):
        for _ in range(20):
            a = (rng.standard_normal((1, n)) * rng.exponential(5)).astype(dtype)
            assert FL.numpy_sum(a[0]) == a.sum(axis=1, keepdims=True)[0, 0], n


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_sample_loss_equals_its_numpy_reference(dtype):
    rng = np.random.default_rng(4)
    z = (rng.standard_normal(10) * 3).astype(dtype)
    work, dz = np.empty(10, dtype), np.empty(10, dtype)
    loss = FL.log_softmax_nll_1(z, 7, work, dz)
    want_loss, want_dz = FL.log_softmax_nll_1_reference(z.astype(np.float64), 7)
    tol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(loss, want_loss, rtol=tol)
    np.testing.assert_allclose(dz, want_dz, rtol=tol, atol=tol)


def tiny_network():
    """A 12-9-7-4 float64 network, 6 samples and their hidden units' uniforms (for the chunk kernels
    against their NumPy step references)."""
    rng = np.random.default_rng(0)
    sizes = [12, 9, 7, 4]
    Ws = [rng.standard_normal((o, i)) * 0.5 for i, o in zip(sizes, sizes[1:])]
    bs = [rng.standard_normal(o) * 0.1 for o in sizes[1:]]
    X, Y = rng.standard_normal((6, sizes[0])), rng.integers(0, 4, 6)
    return Ws, bs, X, Y, rng.random((6, 16))


def test_kernel_equals_its_numpy_reference():
    """fused_chunk (DROPOUT, plain SGD, float64) against fused_step_reference, step by step."""
    Ws, bs, X, Y, u = tiny_network()
    Wr, br = [W.copy() for W in Ws], [b.copy() for b in bs]
    losses = [KS.fused_step_reference(Wr, br, X[s], Y[s], u[s], 0.5, 2.0, 0.05) for s in range(6)]
    loss_sum = np.zeros(1)
    ws = KS.make_workspace(Ws, np.float64)
    zeros = [KS.as_list(np.zeros((1, 1)) for _ in Ws)] * 2
    done = KS.fused_chunk(KS.DROPOUT, KS.SGD, True, X, Y, np.arange(6), u, np.full(6, 0.05),
                          np.zeros((6, 2)), np.ones(1), np.ones(1), FLSH.no_lsh(np.float64),
                          np.zeros(1), np.zeros(1, np.int64), np.zeros(2), 0, KS.as_list(Ws),
                          KS.as_list(bs),
                          KS.as_list(b[:, None] for b in bs), KS.as_list(Ws), KS.as_list(Ws),
                          zeros[0], zeros[1], KS.as_list(np.zeros(1, np.int64) for _ in Ws),
                          0.5, 2.0, 0.0, 0.9, 0.999, 1 - 0.9, 1 - 0.999, 1e-8, **ws,
                          counts=np.zeros((3, KS.N_COUNTS), np.int64), loss_sum=loss_sum)
    assert done == 6
    np.testing.assert_allclose(loss_sum[0], sum(losses), rtol=1e-12)
    for W, Wref, b, bref in zip(Ws, Wr, bs, br):
        np.testing.assert_allclose(W, Wref, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(b, bref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("optimizer,extra", OPTIMISERS)
def test_dropout_float64_is_bit_identical(optimizer, extra):
    data = _data("float64")
    cfg = Config(method="dropout", dropout_keep=0.3, optimizer=optimizer, dtype="float64",
                 **{**SMALL, **extra}).with_(epochs=2)
    fast, ref = _pair(cfg, data)
    assert fast.ledger.times["fused"] > 0 and ref.ledger.times["fused"] == 0
    _assert_same_run(fast, ref)
    assert fast.rng.bit_generator.state == ref.rng.bit_generator.state


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
@pytest.mark.parametrize("extra", [
    {}, {"alsh_rebuild": "fixed", "alsh_rebuild_every": 37}, {"alsh_recall_every": 50},
    {"alsh_rebuild": "exp_decay", "alsh_rebuild_every": 20, "optimizer_state": "dense"},
    {"alsh_rebuild": "drift", "alsh_rebuild_every": 15, "alsh_drift_threshold": 0.0},
    {"alsh_redraw": True, "alsh_rebuild": "fixed", "alsh_rebuild_every": 23},
    # every selection policy and the DWTA family (kernels/fused_lsh.py)
    {"alsh_select": "topfreq"}, {"alsh_select": "union", "alsh_bits": 3},
    {"alsh_select": "threshold", "alsh_threshold": 1, "alsh_bits": 3},
    {"alsh_hash": "dwta", "alsh_bits": 2},
    {"alsh_hash": "dwta", "alsh_bits": 2, "alsh_select": "topfreq", "alsh_transform": "simple_lsh"},
    {"alsh_hash": "srp_gaussian", "alsh_select": "threshold", "alsh_transform": "sign_alsh",
     "alsh_redraw": True, "alsh_rebuild": "fixed", "alsh_rebuild_every": 31}])
def test_alsh_float64_is_bit_identical_across_rebuilds_and_recall_steps(optimizer, extra):
    """Compiled calls end at every rebuild point of the schedule (the rebuild runs between them,
    inside Runner.run; with alsh_redraw it draws from the pool's generator); recall steps run on
    the reference."""
    data = _data("float64")
    cfg = Config(method="alsh-approx", alsh_active=0.2, optimizer=optimizer, dtype="float64",
                 alsh_recall_every=0, **{**SMALL, "hidden": (40, 30), "epochs": 2}).with_(**extra)
    fast, ref = _pair(cfg, data)
    assert fast.ledger.times["fused"] > 0
    assert fast.strategy.rebuilds == ref.strategy.rebuilds > 2
    _assert_same_run(fast, ref)
    assert np.array_equal(fast.strategy.pool.u, ref.strategy.pool.u)
    assert fast.strategy.pool.cursor[0] == ref.strategy.pool.cursor[0]


@pytest.mark.parametrize("extra", [{}, {"alsh_redraw": True, "alsh_rebuild": "fixed",
                                       "alsh_rebuild_every": 7}])
def test_alsh_pool_refills_inside_chunks_are_bit_identical(monkeypatch, extra):
    """A 600-uniform pool runs low every few steps: each chunk carries the pool generator's next
    block and swaps it in exactly where lsh_select.select_edbt would refill; a second refill ends
    the compiled call and the runner draws the next block (after the rebuild's own draws, with
    alsh_redraw)."""
    from kernels import lsh
    make = lsh.make_uniform_pool
    monkeypatch.setattr(lsh, "make_uniform_pool", lambda rng: make(rng, 600))
    data = _data("float64")
    cfg = Config(method="alsh-approx", alsh_active=0.2, optimizer="adam", dtype="float64",
                 alsh_recall_every=0, **{**SMALL, "hidden": (40, 30)}).with_(**extra)
    fast, ref = _pair(cfg, data)
    assert fast.ledger.times["fused"] > 0 and fast.ledger.times["forward"] == 0   # no fallback
    for a, b in zip(fast.params, ref.params):
        assert np.array_equal(a.W, b.W) and np.array_equal(a.b, b.b)
    assert np.array_equal(fast.strategy.pool.u, ref.strategy.pool.u)
    assert fast.strategy.hash_rng.bit_generator.state == ref.strategy.hash_rng.bit_generator.state
    assert fast.history[0]["train_loss"] == ref.history[0]["train_loss"]


@pytest.mark.parametrize("optimizer,extra", OPTIMISERS)
def test_standard_float64_equals_to_rounding(optimizer, extra):
    data = _data("float64")
    cfg = Config(method="standard", optimizer=optimizer, dtype="float64", **{**SMALL, **extra})
    fast, ref = _pair(cfg, data)
    for a, b in zip(fast.params, ref.params):
        np.testing.assert_allclose(a.W, b.W, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(a.b, b.b, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fast.history[0]["train_loss"], ref.history[0]["train_loss"],
                               rtol=1e-12)
    for phase in ("forward", "backward-input", "backward-weight", "update"):
        assert fast.ledger.totals(phase)[0] == ref.ledger.totals(phase)[0], phase
    if optimizer != "adam":      # Adam's fused backward reads W once less (its own ledger entry)
        assert fast.ledger.work == ref.ledger.work


def test_adam_backward_fused_equals_its_reference():
    rng = np.random.default_rng(2)
    W, m, v = rng.standard_normal((7, 9)), rng.random((7, 9)) * 0.1, rng.random((7, 9)) * 0.1
    g, a = rng.standard_normal(7), rng.standard_normal(9)
    step, corr = rng.random(7) * 1e-2, 1 + rng.random(7)
    ref = [W.copy(), m.copy(), v.copy(), np.empty(9)]
    KU.adam_backward_fused_reference(*ref[:3], g, a, step, corr, 0.9, 0.999, 1 - 0.9, 1 - 0.999, 1e-8,
                                     ref[3])
    dx = np.empty(9)
    KU.adam_backward_fused(W, m, v, g, a, step, corr, 0.9, 0.999, 1 - 0.9, 1 - 0.999, 1e-8, dx)
    for got, want in zip((W, m, v, dx), ref):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("method", ["standard", "dropout"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_float32_equals_to_rounding(method, optimizer):
    data = _data("float32")
    cfg = Config(method=method, optimizer=optimizer, dtype="float32", dropout_keep=0.3,
                 **{**SMALL, "lr": 1e-3})
    fast, ref = _pair(cfg, data)
    for a, b in zip(fast.params, ref.params):
        np.testing.assert_allclose(a.W, b.W, rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(fast.history[0]["train_loss"], ref.history[0]["train_loss"],
                               rtol=1e-5)
    assert fast.history[0]["val_accuracy"] == ref.history[0]["val_accuracy"]


def test_frozen_choice_from_the_reference_reproduces_a_fused_step():
    """The fused step's selection is the reference's: the units it kept (read back from the
    ledger-independent strategy statistics) match a reference step given the same uniforms."""
    data = _data("float64")
    cfg = Config(method="dropout", dropout_keep=0.3, optimizer="adam", dtype="float64", **SMALL)
    fast, ref = build_state(cfg, data), build_state(cfg, data)
    for ts in (fast, ref):
        ts.perm, ts.pos = ts.rng.permutation(len(data.train.y)), 0
    runner = fastpath.make_runner(fast, cfg)
    rng_before = ref.rng.bit_generator.state
    runner.run(fast, data.train.X, data.train.y, 1, 10)
    i = ref.perm[0]
    _, _, caches = engine.forward_backward(ref.strategy, ref.params, data.train.X[i:i + 1],
                                           data.train.y[i:i + 1], ref.rng)
    ws_idx = runner.ws["idxs"]
    for l in range(len(ref.params) - 1):
        K = int(runner.ws["Ks"][l])
        assert np.array_equal(ws_idx[l][:K], caches[l].sel.idx)
    assert ref.rng.bit_generator.state != rng_before
    assert fast.rng.bit_generator.state == ref.rng.bit_generator.state


def _fit_interrupted(cfg, data, at_step, path):
    run = fastpath.Runner.run

    def run_then_ctrl_c(self, ts, *args):
        done = run(self, ts, *args)
        if ts.step >= at_step and not getattr(self, "_sent", False):
            self._sent = True
            os.kill(os.getpid(), signal.SIGINT)       # what Ctrl-C does
        return done
    ts = build_state(cfg, data)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fastpath.Runner, "run", run_then_ctrl_c)
        mp.setattr(fastpath, "CHUNK", 70)
        with pytest.raises(engine.Interrupted):
            engine.fit(ts, cfg, data, lambda ts, m: None,
                       lambda ts: checkpoint.save(path, ts, cfg), progress=False)
    return ts


@pytest.mark.parametrize("method", ["dropout", "standard", "topk", "alsh-approx"])
def test_resume_in_the_middle_of_an_epoch_is_bit_identical(tmp_path, method):
    data = _data("float64")
    keep = {"topk_active": 0.3} if method == "topk" else \
        {"alsh_active": 0.2, "alsh_recall_every": 0} if method == "alsh-approx" else {"dropout_keep": 0.3}
    cfg = Config(method=method, optimizer="adam", dtype="float64", **keep,
                 **{**SMALL, "epochs": 2})
    full = _fit(cfg, data)
    path = str(tmp_path / "checkpoint.npz")
    _fit_interrupted(cfg, data, 100, path)
    resumed = build_state(cfg, data)
    checkpoint.load_into(path, resumed)
    assert resumed.step == 140 and resumed.pos == 140
    engine.fit(resumed, cfg, data, lambda ts, m: None, lambda ts: None, progress=False)
    for a, b in zip(full.params, resumed.params):
        assert np.array_equal(a.W, b.W) and np.array_equal(a.b, b.b)
    assert [m["train_loss"] for m in full.history] == [m["train_loss"] for m in resumed.history]


@pytest.mark.parametrize("method", ["dropout", "topk"])
def test_fast_path_off_runs_the_reference(monkeypatch, method):
    def refuse(*args):
        raise AssertionError("the fast path ran with --fast-path off")
    monkeypatch.setattr(fastpath.Runner, "run", refuse)
    data = _data("float64")
    cfg = Config(method=method, dtype="float64", fast_path="off", **SMALL)
    ts = _fit(cfg, data)
    assert ts.ledger.times["fused"] == 0 and ts.ledger.times["forward"] > 0


@pytest.mark.parametrize("change,reason", [
    ({"batch_size": 20}, "batch 1"), ({"method": "mc-approx"}, "no fused step"),
    ({"activation": "tanh"}, "ReLU")])
def test_configurations_without_a_fast_path_say_why(change, reason):
    cfg = Config(**{**SMALL, "method": "dropout", **change})
    ts = build_state(cfg, _data("float32"))
    assert reason in fastpath.why_not(ts, cfg)
    assert fastpath.make_runner(ts, cfg) is None


@pytest.mark.parametrize("method,extra,layer", [
    ("dropout", {"dropout_keep": 0.5}, 1),
    ("adaptive-dropout", {"standout_target_keep": 0.5}, 2)])   # layer 2: NaN keep, no unit kept
def test_divergence_on_the_fast_path_is_reported_by_the_reference_step(method, extra, layer):
    data = _data("float64")
    cfg = Config(method=method, dtype="float64", **SMALL, **extra)
    ts = build_state(cfg, data)
    ts.params[layer].W[...] = np.inf
    with pytest.raises(TrainingDiverged, match=rf"step 1 .*layer {layer + 1} of 3"):
        engine.fit(ts, cfg, data, lambda ts, m: None, lambda ts: None, progress=False)
