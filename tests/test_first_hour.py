"""What a new user meets in their first hour (issue 13): each bad input or interruption ends with one
clear message and a non-zero exit, and nothing already written is lost or half-written."""
import http.server
import json
import os
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest

from npmlp import checkpoint, engine, runner, train
from npmlp.config import Config, available_cores, config_lines, normalize_names, pick
from npmlp.errors import TrainingDiverged, UserError
from npmlp.expectations import FINDINGS, warnings_for

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICK = ["--dataset", "synthetic", "--limit", "400", "--hidden", "2x32", "--epochs", "1",
         "--no-progress"]


def run_main(argv, capsys):
    code = train.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def one_message(err):
    """The error output is one message (a leading blank line after a progress bar aside), no traceback."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# ---------------------------------------------------------------- item 1: the paper's setting per method

@pytest.mark.parametrize("method", ["dropout", "adaptive-dropout", "alsh-approx"])
def test_batch_one_methods_start_at_the_papers_batch_size(method, tmp_path, capsys):
    out = tmp_path / "r"
    code, stdout, _ = run_main([*QUICK, "--method", method, "--out", str(out)], capsys)
    assert code == 0
    assert "batch_size=1 (the paper's setting for this method" in stdout
    assert json.loads((out / "config.json").read_text())["batch_size"] == 1


def test_a_given_batch_size_is_kept_and_the_known_finding_is_printed(tmp_path, capsys):
    out = tmp_path / "r"
    code, stdout, _ = run_main([*QUICK, "--method", "dropout", "--batch-size", "20", "--active-batch",
                                "dense", "--out", str(out)], capsys)
    assert code == 0 and json.loads((out / "config.json").read_text())["batch_size"] == 20
    text = " ".join(stdout.split())                    # lines are wrapped to the terminal
    assert text.count("note: dropout") == 1
    note = text[text.index("note: dropout"):text.index("data: synthetic")]
    assert "compute reduction 0%" in note and "bench/README" in note
    # the default batch-N path computes only the kept units: no such note
    code, stdout, _ = run_main([*QUICK, "--method", "dropout", "--batch-size", "20", "--out",
                                str(tmp_path / "auto")], capsys)
    assert code == 0 and "note: dropout" not in stdout


def test_standard_and_mc_keep_the_common_default(tmp_path, capsys):
    for method in ("standard", "mc-approx"):
        out = tmp_path / method
        assert run_main([*QUICK, "--method", method, "--out", str(out)], capsys)[0] == 0
        assert json.loads((out / "config.json").read_text())["batch_size"] == 20


def test_findings_come_from_one_table_and_name_where_they_are_shown():
    deep = Config(method="dropout", hidden=(1000,) * 3, batch_size=1)
    lines = warnings_for(deep)
    assert len(lines) == 1 and "collapses to one predicted label" in lines[0]
    assert "results/REPORT.md" in lines[0] and "'Label collapse against depth'" in lines[0]
    assert warnings_for(Config(method="dropout", hidden=(1000,), batch_size=1)) == []
    assert warnings_for(Config(method="standard", hidden=(1000,) * 7)) == []
    assert all(f.where for f in FINDINGS)


# ---------------------------------------------------------------- item 2: threads

def test_threads_beyond_the_cores_are_capped_and_said(tmp_path, capsys):
    out = tmp_path / "r"
    code, stdout, _ = run_main([*QUICK, "--threads", "64", "--out", str(out)], capsys)
    cores = available_cores()
    text = " ".join(stdout.split())
    assert code == 0 and f"--threads 64: this process may use {cores} core(s); using {cores}" in text
    assert json.loads((out / "config.json").read_text())["threads"] == cores


# ---------------------------------------------------------------- item 3: compile only what runs

def test_kernels_needed_per_method(monkeypatch):
    import kernels
    assert kernels.needed("standard") == ("update",)
    assert "lsh_select" in kernels.needed("alsh-approx") and "crs_norms" not in kernels.needed("alsh-approx")
    assert "lsh_dwta" not in kernels.needed("alsh-approx", alsh_hash="srp_rademacher")
    assert "lsh_dwta" in kernels.needed("alsh-approx", alsh_hash="dwta")
    assert set(kernels.needed("mc-approx")) == {"update", "crs_norms", "crs_sampling", "crs_product"}
    for _, module, _ in kernels.NEEDS:
        assert module in kernels.MODULES
    extra = (("standard", "crs_norms", {"batch_size": lambda b: b > 1}),)   # a predicate condition
    monkeypatch.setattr(kernels, "NEEDS", kernels.NEEDS + extra)
    assert "crs_norms" in kernels.needed("standard", batch_size=20)
    assert "crs_norms" not in kernels.needed("standard", batch_size=1)


def test_warmup_of_named_modules_compiles_only_those():
    import kernels
    times = kernels.warmup(("update",))
    assert times and all(k.startswith("kernels.update.") for k in times)


def test_compile_estimate_reads_numbas_index_files(tmp_path, monkeypatch):
    import kernels
    monkeypatch.setattr(kernels, "_cache_dirs", lambda: [str(tmp_path)])
    assert kernels.compile_estimate(("update",)) == (("update",), kernels.COLD_SECONDS["update"])
    (tmp_path / "update.adam_factored-10.py311.nbi").write_bytes(b"")
    assert kernels.compile_estimate(("update",)) == ((), 0)


# ---------------------------------------------------------------- item 5: Ctrl-C at every stage

def _env(**extra):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": REPO, **extra}
    return env


def test_ctrl_c_while_compiling_kernels(tmp_path):
    """A real compile: an empty Numba cache makes the warm-up take seconds; SIGINT arrives after the
    'compiling kernels' line, i.e. during it."""
    out = tmp_path / "r"
    proc = subprocess.Popen([sys.executable, "-m", "npmlp.train", *QUICK, "--out", str(out)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env(NUMBA_CACHE_DIR=str(tmp_path / "numba"), NPMLP_OFFLINE="1"))
    for line in proc.stdout:
        if line.startswith("compiling kernels (first run only, ~"):
            proc.send_signal(signal.SIGINT)
            break
    else:
        proc.kill()
        pytest.fail("no 'compiling kernels' line: " + proc.stderr.read())
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 130, stderr
    assert one_message(stderr).startswith("interrupted while compiling kernels")
    assert not out.exists()                     # the run folder is made only once the run can start


class _StallingHandler(http.server.BaseHTTPRequestHandler):
    """Sends the headers and a first chunk of a .gz file, then waits until the test lets it go."""
    arrived = threading.Event()
    release = threading.Event()

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(1 << 20))
        self.end_headers()
        self.wfile.write(b"\x1f\x8b" + bytes(4096))
        self.wfile.flush()
        type(self).arrived.set()
        type(self).release.wait(60)

    def log_message(self, *args):
        pass


def test_ctrl_c_while_fetching_data(tmp_path):
    """A real fetch from a local server that stalls mid-file; SIGINT once the request arrived."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _StallingHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    out, cache = tmp_path / "r", tmp_path / "cache"
    env = _env(NPMLP_MIRROR_KMNIST=f"http://127.0.0.1:{server.server_address[1]}/",
               NPMLP_CACHE=str(cache), NPMLP_DATA=str(tmp_path / "empty"))
    env.pop("NPMLP_OFFLINE", None)
    (tmp_path / "empty").mkdir()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "npmlp.train", "--dataset", "kmnist",
                                 "--no-progress", "--out", str(out)], cwd=REPO, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert _StallingHandler.arrived.wait(120), "the fetch never reached the server"
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        _StallingHandler.release.set()
        server.shutdown()
        server.server_close()
    assert proc.returncode == 130, stderr
    assert one_message(stderr).startswith("interrupted while loading the data")
    assert not out.exists()
    assert not [p for p in cache.rglob("*") if p.is_file()]    # no half-written file in the cache


def test_ctrl_c_during_the_final_evaluation_keeps_the_finished_run(tmp_path, capsys, monkeypatch):
    """Training finished and was checkpointed; Ctrl-C in the test-set evaluation (raised where the
    evaluation runs, as Python raises it from SIGINT) says how to get the evaluation back."""
    out = tmp_path / "r"
    evaluate, calls = engine.evaluate, []

    def interrupted_on_the_test_set(strategy, params, X, y, batch_size):
        calls.append(X.shape[0])
        if len(calls) == 2:           # 1: validation at the end of the epoch; 2: the test set
            raise KeyboardInterrupt
        return evaluate(strategy, params, X, y, batch_size)

    monkeypatch.setattr(engine, "evaluate", interrupted_on_the_test_set)
    code, _, err = run_main([*QUICK, "--out", str(out)], capsys)
    assert code == 130
    message = one_message(err)
    assert message.startswith("interrupted during the final evaluation")
    assert f"--resume --out {out}" in message
    monkeypatch.setattr(engine, "evaluate", evaluate)
    code, stdout, _ = run_main(["--resume", "--out", str(out), "--no-progress"], capsys)
    assert code == 0 and "test accuracy" in stdout and (out / "summary.json").exists()


# ---------------------------------------------------------------- item 6: a damaged checkpoint

def test_truncated_checkpoint_names_the_file_and_keeps_the_previous_one(tmp_path, capsys):
    out = tmp_path / "r"
    assert run_main([*QUICK, "--epochs", "2", "--out", str(out)], capsys)[0] == 0
    ckpt, prev = out / "checkpoint.npz", out / "checkpoint.prev.npz"
    assert checkpoint.read_meta(str(prev))["epoch"] == 1 and checkpoint.read_meta(str(ckpt))["epoch"] == 2
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[: len(data) // 2])
    damaged, before = ckpt.read_bytes(), prev.read_bytes()
    code, _, err = run_main(["--resume", "--out", str(out), "--epochs", "3", "--no-progress"], capsys)
    assert code == 2
    message = one_message(err)
    assert f"cannot read checkpoint {ckpt}" in message and f"{prev} (epoch 1), is intact" in message
    assert ckpt.read_bytes() == damaged and prev.read_bytes() == before        # nothing touched


# ---------------------------------------------------------------- item 7: resume conflicts

def test_resume_refuses_architecture_and_method_changes(tmp_path, capsys):
    out = tmp_path / "r"
    assert run_main([*QUICK, "--out", str(out)], capsys)[0] == 0
    before = (out / "checkpoint.npz").read_bytes()
    code, _, err = run_main(["--resume", "--out", str(out), "--hidden", "2x500", "--method", "mc-approx"],
                            capsys)
    message = one_message(err)
    assert code == 2 and "--hidden (500, 500)" in message and "--method 'mc-approx'" in message
    assert (out / "checkpoint.npz").read_bytes() == before
    code, stdout, _ = run_main(["--resume", "--out", str(out), "--epochs", "2", "--threads", "1",
                                "--hidden", "2x32", "--no-progress"], capsys)   # same value: fine
    assert code == 0 and "epoch   2/2" in stdout


# ---------------------------------------------------------------- items 8-10: bad values, no leftovers

@pytest.mark.parametrize("argv,message", [
    (["--standout-alpha", "nan", "--method", "adaptive-dropout"], "--standout-alpha nan is invalid: "
                                                                  "expected a finite number"),
    (["--lr", "inf"], "--lr inf is invalid: expected a finite number"),
    (["--dropout-keep", "nan"], "--dropout-keep nan is invalid"),
    (["--mc-mix-eps=-inf"], "--mc-mix-eps -inf is invalid"),
    (["--hidden", "100000x100000"], "GiB is available; choose smaller layers"),
    (["--batch-size", "100000"], "larger than the training set (400 samples)"),
    (["--limit", "5", "--batch-size", "20"], "larger than the training set (5 samples)"),
    (["--method", "dropuot"], "Did you mean 'dropout'?"),
    (["--dataset", "MNSIT"], "Did you mean 'mnist'?"),
    (["--activation", "rleu"], "Did you mean 'relu'?"),
])
def test_bad_value_is_one_message_and_leaves_no_run_folder(argv, message, tmp_path, capsys):
    out = tmp_path / "r"
    code, stdout, err = run_main([*QUICK, "--out", str(out), *argv], capsys)
    assert code == 2 and message in one_message(err)
    assert not out.exists()
    assert max(map(len, (stdout + err).splitlines()), default=0) <= 400


def test_missing_dataset_leaves_no_run_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NPMLP_DATA", str(tmp_path))
    monkeypatch.setenv("NPMLP_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "r"
    code, _, err = run_main(["--dataset", "kmnist", "--no-progress", "--out", str(out)], capsys)
    assert code == 2 and err.startswith("error: KMNIST") and "Traceback" not in err
    assert not out.exists()


def test_config_lines_fit_the_terminal():
    cfg = Config(hidden=(100000,) * 100000)
    lines = config_lines(cfg, width=100)
    assert all(len(line) <= 100 for line in lines) and "hidden=100000x100000" in "".join(lines)


def test_case_and_separator_variants_are_accepted():
    assert normalize_names({"method": "MC_APPROX", "dataset": "MNIST", "activation": "ReLU"},
                           methods=("standard", "mc-approx"), datasets=("mnist", "fashion-mnist")) \
        == {"method": "mc-approx", "dataset": "mnist", "activation": "relu"}
    with pytest.raises(UserError, match="valid methods: standard, mc-approx$"):
        pick("method", "zzz", ("standard", "mc-approx"))


# ---------------------------------------------------------------- item 12: grouped help

def test_help_is_grouped_and_opens_with_the_common_options(capsys):
    with pytest.raises(SystemExit):
        train.main(["--help"])
    out = capsys.readouterr().out
    assert len(out.splitlines()[0]) <= 160                  # the usage line is not every flag
    top = out[:out.index("data options:")]
    for flag in ("--method", "--dataset", "--epochs", "--batch-size", "--out", "--resume"):
        assert flag in top
    for group in ("network options:", "optimisation options:", "DROPOUT (--method dropout):",
                  "ALSH-APPROX (--method alsh-approx):", "MC-APPROX (--method mc-approx):"):
        assert group in out
    assert out.index("MC-APPROX (--method mc-approx):") < out.index("--mc-rho-bwd")


def test_diverged_run_after_a_good_epoch_says_the_checkpoint_is_kept(tmp_path, capsys, monkeypatch):
    out = tmp_path / "r"
    step = engine.train_step

    def nan_step(ts, x, y, *args, **kwargs):     # the engine's own divergence, in the second epoch
        if ts.epoch == 1:
            raise TrainingDiverged("the loss became nan at step 99.")
        return step(ts, x, y, *args, **kwargs)

    monkeypatch.setattr(engine, "train_step", nan_step)
    code, _, err = run_main([*QUICK, "--epochs", "2", "--out", str(out)], capsys)
    assert code == 3
    assert f"The last good checkpoint, {out / 'checkpoint.npz'}, is kept." in one_message(err)
    assert checkpoint.read_meta(str(out / "checkpoint.npz"))["epoch"] == 1
    assert np.isfinite(np.load(out / "checkpoint.npz")["param.0.W"]).all()


def test_the_light_method_list_is_the_registry():
    """config.METHODS lets the CLI check --method before Numba loads; it must name every strategy."""
    from npmlp.config import METHODS
    from npmlp.strategies import STRATEGIES
    assert METHODS == tuple(STRATEGIES)


def test_the_config_line_comes_before_numpy_scipy_and_numba_load(tmp_path):
    """The first line a user sees needs no SciPy or Numba import (a fresh run printed nothing for
    ~64 s); stopped at that line, so nothing runs."""
    code = ("import sys, npmlp.train as t, npmlp.runner as r\n"
            "args = t.build_parser().parse_args(['--dataset', 'synthetic', '--no-progress'])\n"
            "cfg, given = t.config_from_args(args)\n"
            "def stop(line):\n"
            "    heavy = sorted(m for m in ('numba', 'scipy') if m in sys.modules)\n"
            "    print('HEAVY', heavy, line[:13]); sys.exit(0)\n"
            "r.run_training(cfg, out=sys.argv[1], given=given, log=stop)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "r")], cwd=REPO,
                          capture_output=True, text=True, timeout=120, env=_env(NPMLP_OFFLINE="1"))
    assert "HEAVY [] npmlp config:" in proc.stdout, proc.stdout + proc.stderr


def test_case_and_underscore_variants_reach_the_run(tmp_path, capsys):
    out = tmp_path / "r"
    code, _, _ = run_main([*QUICK, "--method", "MC_APPROX", "--activation", "ReLU", "--out", str(out)],
                          capsys)
    saved = json.loads((out / "config.json").read_text())
    assert code == 0 and saved["method"] == "mc-approx" and saved["activation"] == "relu"
