"""Stored runs keep their keys when Config gains a field (experiments/runstore.py: ADDED_CONFIG_FIELDS)."""
import glob
import json
import os

import pytest

from npmlp.config import Config
from npmlp.experiments.runstore import ADDED_CONFIG_FIELDS, RunSpec

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "results", "runs")


def test_every_published_run_spec_reproduces_its_key():
    specs = sorted(glob.glob(os.path.join(ROOT, "*", "spec.json")))
    if not specs:
        pytest.skip("no published runs in results/runs")
    for path in specs:
        with open(path) as f:
            s = json.load(f)
        config = Config.from_json(s["config"]).to_json() if s["config"] else {}   # today's fields
        assert RunSpec(s["kind"], config, s["params"]).key == s["key"], s["label"]


def test_an_added_field_counts_once_it_leaves_its_default():
    cfg = Config().to_json()
    base = RunSpec("train", cfg).key
    old = {k: v for k, v in cfg.items() if k not in ADDED_CONFIG_FIELDS}   # as keyed before
    assert RunSpec("train", old).key == base
    assert RunSpec("train", {**cfg, "topk_active": 0.1}).key != base
