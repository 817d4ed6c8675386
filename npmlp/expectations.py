"""What to expect from each method: the paper's own setting, and this project's measured findings.

Two tables, the one place to update when a measurement changes:

- PAPER_BATCH: the mini-batch size the EDBT paper runs a method at (§8.4, Table 3: ALSH-APPROX, DROPOUT
  and ADAPTIVE-DROPOUT are batch-1 methods). `npmlp.train` starts a method there unless the user gave
  --batch-size. MC-APPROX is compared at batch 20 and 1 (Tables 3-4), so it keeps the common default.
- FINDINGS: settings this project measured to collapse or to save nothing. `npmlp.train` prints one line
  per finding that applies to the resolved config, naming where results/REPORT.md (or bench/README.md)
  shows it. Each finding quotes the measured number; nothing here is predicted.

Light on purpose (no numpy): `npmlp.train` imports it before its first line of output.
"""
from typing import Callable, NamedTuple

PAPER_BATCH = {"dropout": 1, "adaptive-dropout": 1, "alsh-approx": 1}


class Finding(NamedTuple):
    method: str
    applies: Callable          # applies(cfg) -> bool
    text: str                  # one line; may use {cfg.FIELD} placeholders
    where: str                 # the section that shows the measurement


def _depth(cfg):
    return len(cfg.hidden)


_MASKED = ("with --active-batch dense each sample's units are computed as masked dense products: "
           "compute reduction 0%, {speed} (measured at batch 20 before the sparse batch-N path)")
_BATCH_N = "bench/README.md 'Batch-N active sets' and 'Methods per epoch' (batch 20)"

FINDINGS = (
    Finding("dropout", lambda c: c.batch_size > 1 and c.active_batch == "dense",
            _MASKED.replace("{speed}", "0.86-0.96x STANDARD's speed"), _BATCH_N),
    Finding("alsh-approx", lambda c: c.batch_size > 1 and c.active_batch == "dense",
            _MASKED.replace("{speed}", "0.74-0.83x STANDARD's speed"), _BATCH_N),
    Finding("adaptive-dropout", lambda c: c.batch_size > 1,
            "at batch {cfg.batch_size} keeps the dense forward product (its keep probability needs "
            "every unit's z); only backward and update run on the kept units: 0.87-1.08x "
            "STANDARD's speed at batch 20", _BATCH_N),
    Finding("mc-approx", lambda c: c.batch_size == 1,
            "at batch 1 saves no time: the sampling probabilities need a pass over W that costs "
            "what the exact product costs (92.8 vs STANDARD's 83.7 s/epoch, Adam)",
            "bench/README.md 'Methods per epoch' (batch 1); results/REPORT.md 'Training time per "
            "epoch'"),
    Finding("dropout", lambda c: c.optimizer == "sgd" and c.dropout_scaling == "inverted"
            and c.dropout_keep <= 0.05,
            "with plain SGD and inverted scaling (x{scale:.0f}) diverged within 50 steps at lr 1e-3; "
            "the benchmark runs --dropout-scaling classic instead", "bench/README.md 'Methods per epoch' (batch 1 with "
            "plain SGD)"),
    Finding("dropout", lambda c: c.dropout_keep <= 0.05 and _depth(c) >= 3,
            "keep {cfg.dropout_keep} on {depth} hidden layers collapses to one predicted label "
            "(MNIST 3 hidden: 10.24% test accuracy, 1 of 10 labels predicted)",
            "results/REPORT.md 'Accuracy with 3 hidden layers' and 'Label collapse against depth'"),
    Finding("alsh-approx", lambda c: _depth(c) >= 5,
            "{depth} hidden layers collapse to one predicted label (MNIST 5 hidden: 9.80% test "
            "accuracy dense, 36.8% evaluated sparse)",
            "results/REPORT.md 'Accuracy against depth' and 'Label collapse against depth'"),
    Finding("adaptive-dropout", lambda c: _depth(c) >= 5 and c.standout_target_keep > 0,
            "a mean keep of {cfg.standout_target_keep} on {depth} hidden layers loses most accuracy "
            "(MNIST 5 hidden: 38.90% test accuracy)", "results/REPORT.md 'Accuracy against depth'"),
)


def paper_batch(method):
    """The paper's batch size for `method`, or None where the common default applies."""
    return PAPER_BATCH.get(method)


def warnings_for(cfg):
    """One line per known finding that applies to `cfg`."""
    lines = []
    for f in FINDINGS:
        if f.method == cfg.method and f.applies(cfg):
            text = f.text.format(cfg=cfg, depth=_depth(cfg), scale=1 / cfg.dropout_keep)
            lines.append(f"note: {cfg.method} {text}; see {f.where}.")
    return lines
