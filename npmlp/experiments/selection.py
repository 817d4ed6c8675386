"""Selection quality: how much of each sample's true top-k an active-set rule finds, against the test
accuracy the same training reaches with it (issue 12). Not an experiment of the paper: it explains
the paper's ALSH-APPROX result with a number.

Every run is a batch-1 training run of the same network, budget and optimiser (a 5% active set per
hidden layer, no rescaling, Adam 1e-3 constant); only the selection differs:
    ALSH-APPROX hashing configurations   recall measured during training (alsh_recall_every: the
                                         share of the exact top-tau units found, uncounted work),
                                         evaluated on their own active sets (--alsh-eval sparse)
    random sets (DROPOUT, classic scaling: kept units unscaled in training, so the same training as
                 the others)              recall of a uniform random set of 5% is 5% (its expectation)
    TOPK                                  the exact top k: recall 1 by construction (tested in
                                          tests/test_strategies_topk.py), evaluated on its own sets
"""
from . import figures
from . import report as R
from .types import Experiment, Plan
from .variants import VARIANTS, train_run

DEPTH = 3
RECALL_EVERY = 100
# (row label, variant key, Config changes): the hashing settings of notes/selection-evidence.md
SELECTIONS = (
    ("ALSH l2_alsh, SRP, K6 L5, edbt (the paper's)", "alsh-approx_S", {}),
    ("ALSH sign_alsh, SRP, K6 L5, edbt", "alsh-approx_S", {"alsh_transform": "sign_alsh"}),
    ("ALSH l2_alsh, SRP, K6 L50, topfreq", "alsh-approx_S",
     {"alsh_tables": 50, "alsh_select": "topfreq"}),
    ("ALSH DWTA, K2 L50, topfreq", "alsh-approx_S",
     {"alsh_hash": "dwta", "alsh_bits": 2, "alsh_tables": 50, "alsh_select": "topfreq"}),
    ("random 5% (DROPOUT keep 0.05, unscaled)", "dropout_S", {"dropout_scaling": "classic"}),
    ("TOPK (exact top 5%)", "topk_S", {}),
)
ALSH_EXTRA = {"alsh_eval": "sparse", "alsh_recall_every": RECALL_EVERY}


def _changes(key, changes):
    return {**changes, **ALSH_EXTRA} if key == "alsh-approx_S" else dict(changes)


def _plan(ctx):
    p = ctx.profile
    datasets, notes = ctx.usable_datasets(p.datasets)
    runs = []
    for d in datasets:
        for label, key, changes in SELECTIONS:
            spec = train_run(VARIANTS[key], d, DEPTH, p, **_changes(key, changes))
            spec.tags["selection"] = label
            runs.append(spec)
    return Plan(runs, notes, {"datasets": datasets, "depth": DEPTH})


def _recall(key, history, changes):
    """Mean recall over hidden layers in the last epoch, and per layer (None where not measured)."""
    if key == "topk_S":
        return 1.0, [1.0] * DEPTH
    if key == "dropout_S":
        return None, None
    last = history[-1]
    per = [last.get(f"stat_recall_l{l + 1}") for l in range(DEPTH)]
    if any(v is None for v in per):
        return None, None
    return sum(per) / DEPTH, per


def _analyse(ctx, plan, results):
    rows = {}
    for s, r in plan.finished(results):
        t = s.tags
        key = t["variant"]
        changes = {k: v for k, v in t.items() if k not in ("variant", "dataset", "depth", "repeat",
                                                            "selection")}
        mean, per = _recall(key, r["history"], changes)
        keep = s.config.get("dropout_keep") if key == "dropout_S" else None
        rows.setdefault(t["dataset"], []).append({
            "selection": t["selection"], "variant": key, "recall": mean, "recall_layers": per,
            "expected_recall": keep, "test_accuracy": 100 * r["summary"]["test_accuracy"],
            "active": [r["history"][-1].get(f"stat_active_l{l + 1}") for l in range(DEPTH)]})
    missing = [s.tags["selection"] for s in plan.runs if s.key not in results]
    return {**plan.info, "rows": rows, "missing": missing, "recall_every": RECALL_EVERY}


def _fmt_recall(row):
    if row["recall"] is not None:
        layers = " / ".join(f"{v:.3f}" for v in row["recall_layers"])
        return f"{row['recall']:.3f} ({layers})"
    if row["expected_recall"] is not None:
        return f"{row['expected_recall']:.3f} (expectation of a uniform random set)"
    return None


def _write(ctx, a, folder):
    out = [f"Batch 1, Adam 1e-3 constant, {a['depth']} x {ctx.profile.width} hidden units, a 5% "
           f"active set per hidden layer and no rescaling in every run; only the selection "
           f"differs. Recall: the share of each sample's exact top-5% units that the active set "
           f"holds, averaged over hidden layers (layers 1 / 2 / 3 in brackets), measured during the "
           f"last epoch every {a['recall_every']} steps (uncounted work). ALSH and TOPK are "
           f"evaluated on their own active sets, the random sets densely (DROPOUT's classic "
           f"evaluation).\n"]
    for d, rows in a["rows"].items():
        table = [[r["selection"], _fmt_recall(r), f"{r['test_accuracy']:.2f}"] for r in rows]
        points = {r["selection"]: ([r["recall"] if r["recall"] is not None
                                    else r["expected_recall"]], [r["test_accuracy"]])
                  for r in rows if r["recall"] is not None or r["expected_recall"] is not None}
        fig = figures.lines(folder, f"recall_accuracy_{d}.png", points,
                            "recall of the true top 5% (mean over hidden layers)",
                            "test accuracy (%)", f"{d}: selection quality vs accuracy")
        out.append(f"### {d}\n\n" + R.image("selection", fig, f"recall vs accuracy, {d}")
                   + "\n" + R.md_table(["selection", "recall of the true top 5%",
                                        "test accuracy (%)"], table))
    if a["missing"]:
        out.append("Not (yet) run: " + ", ".join(a["missing"]) + ".\n")
    for d, rows in a["rows"].items():
        out.append(_finding(d, rows))
    out.append(R.scale_caveat(ctx.profile))
    return "\n".join(out)


def _finding(dataset, rows):
    """One sentence from the numbers: the exact selection against the best hashed one and random."""
    by = {r["variant"]: r for r in rows}
    hashed = [r for r in rows if r["variant"] == "alsh-approx_S" and r["recall"] is not None]
    if "topk_S" not in by or not hashed:
        return ""
    best = max(hashed, key=lambda r: r["recall"])
    text = (f"On {dataset}, the hashed set that finds most of the true top 5% ({best['selection']}) "
            f"finds {100 * best['recall']:.1f}% of it and trains to {best['test_accuracy']:.2f}%; "
            f"the exact top 5% (TOPK, same budget and training) reaches "
            f"{by['topk_S']['test_accuracy']:.2f}%")
    if "dropout_S" in by:
        text += f", a random 5% set {by['dropout_S']['test_accuracy']:.2f}%"
    return text + ".\n"


EXPERIMENT = Experiment("selection", "Selection quality against accuracy (not in the paper)",
                        "not in the paper: explains ALSH-APPROX (EDBT §8, Table 2)",
                        _plan, _analyse, _write)
