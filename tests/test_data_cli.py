"""`python -m npmlp.data` as a user runs it: in a subprocess, checking output and exit codes."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run(*args, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO), NPMLP_CACHE=str(tmp_path / "cache"), NPMLP_OFFLINE="1")
    env.pop("NPMLP_DATA", None)
    return subprocess.run([sys.executable, "-m", "npmlp.data", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)


def test_info_synthetic(tmp_path):
    proc = run("info", "synthetic", "--seed", "1", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "synthetic: 10 classes, one sample (784,) = 784 features" in out
    assert "seed 1" in out
    for line_start in ("train     5,000  (5000, 784)", "val       1,000  (1000, 784)", "test      1,000"):
        assert line_start in out
    balance = out.split("class balance (samples per class):")[1].strip().splitlines()
    assert balance[0].split() == ["class", "train", "val", "test"] and len(balance) == 11
    assert sum(int(row.split()[1].replace(",", "")) for row in balance[1:]) == 5000


def test_unknown_dataset_is_one_message_and_exit_2(tmp_path):
    proc = run("info", "mnsit", tmp_path=tmp_path)
    assert proc.returncode == 2
    assert "error: unknown dataset 'mnsit'; valid names: mnist, fashion-mnist" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_fetch_of_a_dataset_without_a_source_names_its_files(tmp_path):
    proc = run("fetch", "cifar10", tmp_path=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "CIFAR-10 is not available" in proc.stderr and "data_batch_1" in proc.stderr
    assert "cifar-10-python.tar.gz" in proc.stderr


def test_fetch_synthetic_and_help(tmp_path):
    proc = run("fetch", "synthetic", tmp_path=tmp_path)
    assert proc.returncode == 0 and "nothing to fetch" in proc.stdout
    proc = run("--help", tmp_path=tmp_path)
    assert proc.returncode == 0 and "fetch" in proc.stdout and "NPMLP_OFFLINE" in proc.stdout
    proc = run("info", "--help", tmp_path=tmp_path)
    assert proc.returncode == 0 and "--validation" in proc.stdout
