"""`python -m npmlp.train` end to end on synthetic data, and every bad input a user can give."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from npmlp import train

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICK = ["--dataset", "synthetic", "--limit", "400", "--hidden", "2x32", "--epochs", "2",
         "--no-progress"]


def read(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


def run_main(argv, capsys):
    code = train.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_subprocess_writes_a_complete_run_folder(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "npmlp.train", *QUICK, "--out", str(out), "--plot"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "npmlp config:" in proc.stdout and "epoch   2/2" in proc.stdout
    assert "compute reduction" in proc.stdout and "time fwd" in proc.stdout
    assert "ledger over 800 training samples" in proc.stdout    # the run summary's ledger block
    assert "backward-weight" in proc.stdout and "GFLOP/s" in proc.stdout
    for name in ("config.json", "metrics.jsonl", "summary.json", "checkpoint.npz", "curves.png",
                 "confusion.png"):
        assert (out / name).exists(), name
    summary = json.loads((out / "summary.json").read_text())
    assert 0.0 <= summary["test_accuracy"] <= 1.0
    cm = np.array(summary["confusion_matrix"])
    assert cm.shape == (10, 10) and cm.sum() > 0
    assert len(summary["label_prediction_ratios"]) == 10
    assert summary["ledger"]["phases"]["forward"]["macs"] > 0 and summary["peak_memory_bytes"] > 0
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2


def test_resume_extends_a_finished_run(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert run_main([*QUICK, "--epochs", "1", "--out", out], capsys)[0] == 0
    code, stdout, _ = run_main(["--resume", "--out", out, "--epochs", "2", "--no-progress"], capsys)
    assert code == 0 and "resumed" in stdout and "epoch   2/2" in stdout
    assert len(read(os.path.join(out, "metrics.jsonl")).splitlines()) == 2


@pytest.mark.parametrize("argv,message", [
    (["--method", "magic"], "unknown method 'magic'; valid methods: standard"),
    (["--dataset", "nope"], "unknown dataset"),
    (["--lr", "-0.1"], "--lr -0.1 is invalid: expected a positive number"),
    (["--batch-size", "0"], "--batch-size 0 is invalid"),
    (["--hidden", ""], "--hidden () is invalid: expected at least one positive layer size"),
    (["--hidden", "ax3"], "expected sizes like"),
    (["--batch-size", "1000"], "larger than the training set (400 samples)"),
    (["--momentum", "1.5"], "--momentum 1.5 is invalid"),
])
def test_bad_input_is_one_clear_message(argv, message, capsys, tmp_path):
    code, out, err = run_main([*QUICK, "--out", str(tmp_path / "r"), *argv], capsys)
    assert code == 2
    assert message in err and "Traceback" not in err


def test_bad_input_in_a_subprocess_has_no_traceback():
    proc = subprocess.run([sys.executable, "-m", "npmlp.train", "--method", "magic"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "valid methods" in proc.stderr


def test_unwritable_output_folder(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, _, err = run_main([*QUICK, "--out", str(blocker / "run")], capsys)
    assert code == 2 and "cannot write to the output folder" in err


def test_existing_run_is_never_overwritten(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert run_main([*QUICK, "--epochs", "1", "--out", out], capsys)[0] == 0
    before = read(os.path.join(out, "checkpoint.npz"), "rb")
    code, _, err = run_main([*QUICK, "--out", out], capsys)
    assert code == 2 and "already holds a run" in err
    assert read(os.path.join(out, "checkpoint.npz"), "rb") == before


def test_resume_with_another_architecture_is_refused(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert run_main([*QUICK, "--epochs", "1", "--out", out], capsys)[0] == 0
    cfg = json.loads(read(os.path.join(out, "config.json")))
    cfg["hidden"] = [16]
    from npmlp import checkpoint
    from npmlp.config import Config
    from npmlp.runner import build_state, load_data
    other = Config.from_json(cfg)
    ts = build_state(other, load_data(other, progress=False))
    from npmlp.errors import UserError
    with pytest.raises(UserError, match="holds a network with layer shapes"):
        checkpoint.load_into(os.path.join(out, "checkpoint.npz"), ts)


def test_nan_loss_message(tmp_path, capsys):
    code, _, err = run_main([*QUICK, "--out", str(tmp_path / "r"), "--optimizer", "sgd",
                             "--lr", "1e6", "--init", "normal", "--init-std", "10"], capsys)
    assert code == 3
    assert "loss became" in err and "layer" in err
    assert "No epoch finished, so no checkpoint was written" in err   # says what exists


@pytest.mark.parametrize("module", ["npmlp.train", "npmlp.data", "npmlp.experiments"])
def test_help_prints_and_exits_zero(module):
    """--help renders every option's text (argparse %-formats it, so a stray '%' would crash)."""
    proc = subprocess.run([sys.executable, "-m", module, "--help"], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "usage:" in proc.stdout and "Traceback" not in proc.stderr


def test_train_help_lists_every_config_field(capsys):
    from dataclasses import fields

    from npmlp.config import Config
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for f in fields(Config):
        assert "--" + f.name.replace("_", "-") in out, f.name
