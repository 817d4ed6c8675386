"""Batch N of the active-set methods: the per-sample sparse path equals the masked dense path.

Both paths run one engine step from the same network with the same selections (the sparse run's
masks frozen into the dense run with sel=), then the optimiser's update; losses, every layer's
gradient and the updated parameters and optimiser state must agree to float rounding (float64).
"""
import numpy as np
import pytest

from npmlp import engine
from npmlp.config import Config
from npmlp.runner import build_state
from npmlp.strategies import active_batch as AB
from tests.strategy_helpers import dense_grads, gradient_check_frozen

METHODS = {
    "dropout": {"dropout_keep": 0.3},
    "dropout-classic": {"dropout_keep": 0.3, "dropout_scaling": "classic"},
    "adaptive-dropout": {"standout_target_keep": 0.3},
    "alsh-approx": {"alsh_active": 0.3, "alsh_bits": 3, "alsh_tables": 4},
}
BASE = dict(hidden=(40, 30, 30), dtype="float64", seed=3)


def cfg_for(name, **kw):
    method = "dropout" if name.startswith("dropout") else name
    return Config(method=method, **{**BASE, **METHODS[name], **kw})


def one_step(cfg, data, n, sels=None):
    """One forward/backward/update on the first n samples; returns what the step produced."""
    ts = build_state(cfg, data)
    x, y = data.train.X[:n], data.train.y[:n]
    loss, grads, caches = engine.forward_backward(ts.strategy, ts.params, x, y,
                                                  np.random.default_rng(7), sels=sels)
    dense = dense_grads(grads, ts.params)
    ts.optimizer.step(ts.params, grads, cfg.lr)
    state = ts.optimizer.state_arrays()
    return loss, dense, [a.copy() for p in ts.params for a in p], state, caches, grads, ts


def assert_close(a, b, rtol=1e-11):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * max(np.abs(b).max(), 1e-300))


@pytest.mark.parametrize("optimizer,opt_state", [("adam", "sparse"), ("adam", "dense"),
                                                 ("sgd", "sparse"), ("adagrad", "sparse")])
@pytest.mark.parametrize("name", METHODS)
def test_sparse_path_equals_masked_dense_path(blobs, name, optimizer, opt_state):
    kw = dict(optimizer=optimizer, optimizer_state=opt_state, momentum=0.5 if optimizer == "sgd" else 0.0)
    loss, grads, params, state, caches, wgrads, _ = one_step(cfg_for(name, active_batch="sparse", **kw),
                                                             blobs, 6)
    hidden = caches[:-1]
    assert all(isinstance(c, AB.BatchCache) for c in hidden)
    sels = [c.sel for c in hidden] + [None]
    kept = sum(np.count_nonzero(s) for s in sels[:-1])
    assert 0 < kept < sum(s.size for s in sels[:-1])          # some units kept, some dropped
    d_loss, d_grads, d_params, d_state, d_caches, _, _ = one_step(
        cfg_for(name, active_batch="dense", **kw), blobs, 6, sels=sels)
    assert not any(isinstance(c, AB.BatchCache) for c in d_caches)
    assert abs(loss - d_loss) <= 1e-12 * abs(d_loss)
    for g, r in zip(grads, d_grads):
        assert_close(g, r)
    for g in wgrads[:-1]:                                      # the kernel's rows = G^T A
        rows = np.empty((g.rows.shape[0], g.A.shape[1]))
        g.pairs.fill(rows)
        assert_close(rows, g.G.T @ g.A)
    for p, r in zip(params, d_params):
        assert_close(p, r)
    assert state.keys() == d_state.keys()
    for k in state:
        assert_close(state[k], d_state[k])


@pytest.mark.parametrize("name", ["dropout", "adaptive-dropout", "alsh-approx"])
def test_gradients_with_the_choice_frozen_sparse_path(blobs, name):
    cfg = cfg_for(name, active_batch="sparse", activation="tanh", hidden=(9, 8))
    sels = gradient_check_frozen(cfg, blobs, 4)
    assert any(np.count_nonzero(s) < s.size for s in sels[:-1])


def test_only_rows_some_sample_kept_are_updated(blobs):
    cfg = cfg_for("dropout", active_batch="sparse", optimizer_state="sparse", dropout_keep=0.1)
    ts = build_state(cfg, blobs)
    before = [p.W.copy() for p in ts.params]
    _, grads, caches = engine.forward_backward(ts.strategy, ts.params, blobs.train.X[:4],
                                               blobs.train.y[:4], ts.rng)
    ts.optimizer.step(ts.params, grads, cfg.lr)
    for l, c in enumerate(caches[:-1]):
        kept = np.flatnonzero(c.sel.any(axis=0))
        assert np.array_equal(grads[l].rows, kept)
        moved = np.flatnonzero((ts.params[l].W != before[l]).any(axis=1))
        assert set(moved) <= set(kept) and len(moved) > 0


def test_ledger_records_the_pairs_computed(blobs):
    cfg = cfg_for("dropout", active_batch="sparse", dropout_keep=0.2)
    ts = build_state(cfg, blobs)
    n = 5
    _, grads, caches = engine.forward_backward(ts.strategy, ts.params, blobs.train.X[:n],
                                               blobs.train.y[:n], ts.rng)
    c0, c1 = caches[0], caches[1]
    D_in = blobs.train.X.shape[1]
    assert ts.ledger.totals("forward", 0)[0] == c0.sets.ids.shape[0] * D_in
    K1 = np.diff(c1.sets.ptr)                                  # units kept per sample in layer 2
    J1 = np.count_nonzero(c1.x, axis=1)                        # its non-zero inputs per sample
    assert ts.ledger.totals("forward", 1)[0] == int(K1 @ J1)
    assert ts.ledger.totals("backward-input", 1)[0] == int(K1 @ J1)
    assert ts.ledger.totals("backward-weight", 1)[0] == int(K1 @ J1)
    ts.ledger.samples = n
    assert ts.ledger.compute_reduction() > 0.5


@pytest.mark.parametrize("mode,fraction,dense_input,sparse", [
    ("sparse", 0.9, False, True), ("dense", 0.01, True, False), ("auto", 0.05, False, True),
    ("auto", 0.05, True, True), ("auto", 0.9, True, False), ("auto", 0.25, True, True),
    ("auto", 0.25, False, False)])
def test_the_rule_that_picks_the_path(mode, fraction, dense_input, sparse):
    assert AB.use_sparse(mode, fraction, dense_input) is sparse


def test_auto_takes_the_sparse_path_at_5_percent_and_the_dense_one_at_90(blobs):
    for keep, sparse in ((0.05, True), (0.9, False)):
        cfg = cfg_for("dropout", dropout_keep=keep, hidden=(200, 200))
        ts = build_state(cfg, blobs)
        caches = engine.forward_backward(ts.strategy, ts.params, blobs.train.X[:20],
                                         blobs.train.y[:20], ts.rng)[2]
        assert all(isinstance(c, AB.BatchCache) is sparse for c in caches[:-1])


def test_trains_blobs_on_the_sparse_path(blobs):
    cfg = cfg_for("dropout", active_batch="sparse", dropout_keep=0.5, batch_size=10, lr=1e-2,
                  epochs=2, hidden=(64, 64))
    ts = build_state(cfg, blobs)
    engine.fit(ts, cfg, blobs, lambda ts, m: None, lambda ts: None, progress=False)
    acc, _, _ = engine.evaluate(ts.strategy, ts.params, blobs.test.X, blobs.test.y, 100)
    assert acc > 0.85
    assert ts.ledger.compute_reduction() > 0.2


@pytest.mark.parametrize("pool_size", [1 << 15, 150])   # 150: the pool runs low mid-batch
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_alsh_compiled_batch_selection_equals_the_per_sample_loop(blobs, pool_size, dtype):
    """kernels/active_batch_lsh.py against its reference and against the strategy's own
    per-sample loop (_query): the same masks, pool draws and ledger entries."""
    from kernels import active_batch_lsh as KL
    from kernels import lsh
    cfg = cfg_for("alsh-approx", hidden=(60, 50, 50), alsh_active=0.2, dtype=dtype)
    runs = {}
    for how in ("compiled", "reference", "loop"):
        ts = build_state(cfg, blobs)
        s = ts.strategy
        s.pool = pool = lsh.make_uniform_pool(np.random.default_rng(5), pool_size)
        before = ts.ledger.totals("overhead")
        a = blobs.train.X[:12].astype(dtype)
        masks = []
        for l in range(3):
            layer, ix = ts.params[l], s.index[l]
            m = np.zeros((a.shape[0], layer.W.shape[0]), a.dtype)
            if how == "compiled":
                m = s.choose_mask(l, a, None, layer, None)
            elif how == "reference":
                xs, xi = np.nonzero(a)
                xptr = np.concatenate([[0], np.cumsum(np.count_nonzero(a, axis=1))])
                KL.alsh_edbt_mask_reference(a, None if l == 0 else xptr, xi, a[xs, xi], ix.t,
                                            ix.proj, ix.tables, s.param[l], pool, ix.scratch, m,
                                            np.zeros(a.shape[0], np.int64))
            else:
                for n in range(a.shape[0]):
                    size = s._query(l, a[n], np.flatnonzero(a[n]), layer)
                    m[n, ix.out[:size]] = 1
            masks.append(m)
            a = np.maximum(a @ layer.W.T + layer.b, 0) * (m != 0)   # next layer's sparse input
        runs[how] = (masks, pool.u.copy(), int(pool.cursor[0]), ts.ledger.totals("overhead") - before)
    for how in ("reference", "loop"):
        for a_, b_ in zip(runs["compiled"][0], runs[how][0]):
            assert np.array_equal(a_, b_)
            assert 0 < np.count_nonzero(a_) < a_.size
        assert runs["compiled"][2] == runs[how][2]
        assert np.array_equal(runs["compiled"][1], runs[how][1])
    assert np.array_equal(runs["compiled"][3], runs["loop"][3])


def test_a_batch_n_run_compiles_the_ragged_kernels():
    import kernels
    for method in ("dropout", "adaptive-dropout", "alsh-approx"):
        assert "active_batch" in kernels.needed(method, batch_size=20)
        assert "active_batch" not in kernels.needed(method, batch_size=1)
    assert "active_batch_lsh" in kernels.needed("alsh-approx", batch_size=20)
    assert "active_batch_lsh" not in kernels.needed("dropout", batch_size=20)
