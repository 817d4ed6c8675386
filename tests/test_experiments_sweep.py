"""The sweep runner: run keys, idempotent runs, resuming an interrupted sweep, the local process pool
and a Dask LocalCluster giving the same results as running in this process."""
import os
import signal

import pytest

from npmlp import engine
from npmlp.config import Config
from npmlp.experiments import sweep
from npmlp.experiments.runstore import RunSpec, load_result, run_folder


def spec(method="standard", batch=20, seed=0, epochs=2, fast_path="auto", **kw):
    cfg = Config(dataset="synthetic", method=method, batch_size=batch, hidden=(16,), epochs=epochs,
                 limit=120, seed=seed, fast_path=fast_path)
    kw.setdefault("label", f"{method} b{batch}")
    return RunSpec("train", cfg.to_json(), **kw)


def outcome(result):
    """What must not depend on where a run executed (times and hosts may)."""
    s = result["summary"]
    return (s["test_accuracy"], s["test_loss"], s["confusion_matrix"],
            [(m["train_loss"], m["val_accuracy"]) for m in result["history"]])


def test_keys_depend_on_kind_config_and_params_only():
    a = spec()
    assert spec(label="other", tags={"x": 1}, exclusive=True).key == a.key
    assert spec(seed=1).key != a.key
    assert RunSpec("train", a.config, {"repeat": 1}).key != a.key
    assert RunSpec("error-propagation", a.config).key != a.key
    assert len(a.key) == 16 and int(a.key, 16) >= 0


def test_finished_runs_are_read_not_run(tmp_path, monkeypatch):
    root = str(tmp_path)
    specs = [spec(), spec(method="dropout", batch=1)]
    first = sweep.run_all(specs, root, progress=False)
    calls = []
    monkeypatch.setattr(sweep, "execute", lambda *a, **k: calls.append(a))
    again = sweep.run_all(specs + [spec()], root, progress=False)   # a duplicate key runs once
    assert calls == [] and {k: outcome(r) for k, r in again.items()} == \
        {k: outcome(r) for k, r in first.items()}


def test_an_interrupted_sweep_resumes_where_it_stopped(tmp_path, monkeypatch):
    root = str(tmp_path / "runs")
    # b on the reference path: its Ctrl-C comes from a patched engine.train_step
    a, b = spec(epochs=3), spec(method="dropout", batch=1, epochs=3, fast_path="off")
    real_step, steps = engine.train_step, []

    def ctrl_c_in_run_b(ts, x, y, lr=None):   # Ctrl-C in the middle of run b's second epoch
        steps.append(ts.strategy.name)
        if ts.strategy.name == "dropout" and ts.epoch == 1 and ts.pos == 60:
            os.kill(os.getpid(), signal.SIGINT)
        return real_step(ts, x, y, lr)
    monkeypatch.setattr(engine, "train_step", ctrl_c_in_run_b)
    with pytest.raises(sweep.SweepInterrupted, match="run the same command again to resume"):
        sweep.run_all([a, b], root, progress=False)
    assert load_result(root, a.key) is not None and load_result(root, b.key) is None
    assert os.path.exists(os.path.join(run_folder(root, b.key), "checkpoint.npz"))
    monkeypatch.setattr(engine, "train_step", real_step)

    executed = []
    real_execute = sweep.execute
    monkeypatch.setattr(sweep, "execute", lambda s, *args, **kw: executed.append(s["key"]) or
                        real_execute(s, *args, **kw))
    resumed = sweep.run_all([a, b], root, progress=False)
    assert executed == [b.key]                                       # a is not run again
    with open(os.path.join(run_folder(root, b.key), "log.txt")) as f:
        assert "resumed" in f.read()
    fresh = sweep.run_all([b], str(tmp_path / "fresh"), progress=False)
    assert outcome(resumed[b.key]) == outcome(fresh[b.key])          # bit-identical to no Ctrl-C


def test_the_process_pool_gives_the_in_process_results(tmp_path):
    specs = [spec(), spec(method="alsh-approx", batch=1)]
    here = sweep.run_all(specs, str(tmp_path / "here"), workers=1, progress=False)
    pool = sweep.run_all(specs, str(tmp_path / "pool"), workers=2, progress=False)
    assert {k: outcome(r) for k, r in pool.items()} == {k: outcome(r) for k, r in here.items()}
    assert {r["run"]["pid"] for r in pool.values()} != {os.getpid()}   # ran in the workers
    for r in pool.values():             # when it ran: the report names the days it mixes
        assert r["run"]["started_utc"] <= r["run"]["finished_utc"]
        assert len(r["run"]["finished_utc"]) == len("2026-12-01T13:46:00Z")


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::ResourceWarning",
                            "ignore::UserWarning")
def test_a_dask_local_cluster_gives_the_local_results(tmp_path):
    pytest.importorskip("distributed", reason="Dask is an optional extra: "
                                              "pip install 'dask[distributed]'")
    from distributed import LocalCluster
    specs = [spec(), spec(method="dropout", batch=1), spec(seed=3)]
    specs[2].exclusive = True
    local = sweep.run_all(specs, str(tmp_path / "local"), progress=False)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp",
                      host="127.0.0.1", dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        dask = sweep.run_all(specs, str(tmp_path / "dask"), scheduler=address, progress=False)
    assert {k: outcome(r) for k, r in dask.items()} == {k: outcome(r) for k, r in local.items()}
    assert all(load_result(str(tmp_path / "dask"), s.key) is not None for s in specs)


def test_a_missing_dask_is_one_clear_message(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_distributed(name, *args, **kwargs):
        if name == "distributed" or name.startswith("distributed."):
            raise ImportError("No module named 'distributed'")
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_distributed)
    with pytest.raises(sweep.UserError, match=r"pip install 'dask\[distributed\]'"):
        sweep.dask_client("tcp://127.0.0.1:1")
