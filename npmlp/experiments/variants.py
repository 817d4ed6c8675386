"""The paper's method settings ("variants") and the training configs the experiments build from them.

EDBT footnote 9: subscript S = stochastic (batch 1), M = mini-batch 20; "when there is no subscript,
the default is MGD for MC-APPROX and SGD for all other methods" (so ALSH-APPROX is batch 1). §8.4:
Adam, ReLU, learning rate 1e-3, except MC-APPROX_S at 1e-4. Everything else is `Config`'s default, which
follows the paper's stated setup (DROPOUT keep 0.05, ALSH K=6 L=5 m=3, MC k=10 at batch 20).

An experiment asks for variants by key (`variants(keys)`).
"""
from typing import NamedTuple

from ..config import Config


class Variant(NamedTuple):
    key: str          # e.g. "mc-approx_M"
    label: str        # as the paper prints it, e.g. "MC-APPROX_M"
    method: str       # the strategy registry name
    batch_size: int
    lr: float = 1e-3


VARIANTS = {v.key: v for v in (
    Variant("standard_S", "STANDARD_S", "standard", 1),
    Variant("standard_M", "STANDARD_M", "standard", 20),
    Variant("dropout_S", "DROPOUT_S", "dropout", 1),
    Variant("dropout_M", "DROPOUT_M", "dropout", 20),
    Variant("adaptive-dropout_S", "ADAPTIVE-DROPOUT_S", "adaptive-dropout", 1),
    Variant("adaptive-dropout_M", "ADAPTIVE-DROPOUT_M", "adaptive-dropout", 20),
    Variant("alsh-approx_S", "ALSH-APPROX", "alsh-approx", 1),
    Variant("mc-approx_M", "MC-APPROX_M", "mc-approx", 20),
    Variant("mc-approx_S", "MC-APPROX_S", "mc-approx", 1, lr=1e-4),
    Variant("topk_S", "TOPK (not in the paper)", "topk", 1),
)}

# The grids of the paper's tables and figures (variant keys, in the paper's column order), each with
# TOPK (batch 1, not in the paper) appended last.
TABLE2 = ("alsh-approx_S", "mc-approx_M", "mc-approx_S", "dropout_S", "adaptive-dropout_S",
          "standard_S", "topk_S")
TABLE3 = ("alsh-approx_S", "mc-approx_S", "dropout_S", "adaptive-dropout_S", "standard_S", "topk_S")
TABLE4 = ("mc-approx_M", "dropout_M", "adaptive-dropout_M", "standard_M")
# Depth sweeps (Figs. 3, 4-8, 13): the paper's rows of Fig. 3 plus both STANDARD settings of Fig. 8.
DEPTH_GRID = ("standard_S", "dropout_S", "adaptive-dropout_S", "alsh-approx_S", "standard_M",
              "mc-approx_M", "topk_S")


def variants(keys):
    """The variants of `keys`, in order (every variant's method is registered: a test checks it)."""
    return [VARIANTS[key] for key in keys]


def make_config(variant, dataset, depth, width, epochs, limit, **changes):
    """The Config of one run: the variant's method, batch and learning rate on `depth` x `width`."""
    fields = dict(dataset=dataset, method=variant.method, batch_size=variant.batch_size,
                  lr=variant.lr, hidden=(width,) * depth, epochs=epochs, limit=limit,
                  lr_schedule="constant")  # the paper trains at a constant rate
    fields.update(changes)
    return Config(**fields)


def train_run(variant, dataset, depth, profile, timing=False, repeat=0, **changes):
    """The RunSpec of one training run. Timing runs are short, repeated and run alone."""
    from .runstore import RunSpec
    epochs, limit = ((profile.timing_epochs, profile.timing_limit) if timing
                     else (profile.epochs, profile.limit))
    cfg = make_config(variant, dataset, depth, profile.width, epochs, limit, **changes)
    label = f"{variant.label} {dataset} {depth}x{profile.width}"
    if changes:
        label += " " + " ".join(f"{k}={v}" for k, v in changes.items())
    return RunSpec("train", cfg.to_json(), {"repeat": repeat} if timing else {},
                   exclusive=timing, label=label + (f" timing #{repeat}" if timing else ""),
                   tags={"variant": variant.key, "dataset": dataset, "depth": depth,
                         "repeat": repeat, **changes})
