"""Adelman et al. 2019, Figure 1 (a, b): the error of each CRS variant on random 100x100 products.

    python bench/crs_error.py OUT_DIR [--draws 1000] [--seed 0]

writes OUT_DIR/crs_error.json (every mean, its standard error, the mean fraction of pairs actually
kept) and OUT_DIR/crs_error.png. For each draw, fresh A, B (100 x 100) with i.i.d. U(0, 1) entries
(panel a; the paper's text does not name panel a's distribution, U(0, 1) is our reading: non-zero
mean) or N(0, 1) entries (panel b, named in the paper's §3.3); every variant estimates A @ B from
k = r * 100 pairs, and the error is the paper's metric

    ||AB - est||_F / (||A||_F ||B||_F),

averaged over the draws (the paper used 1000). The dashed line is the data-independent bound for NPS
with replacement, E||AB - est||_F <= ||A||_F ||B||_F / sqrt(k) (Drineas, Kannan & Mahoney 2006,
Theorem 1).
x is the *requested* fraction k/n: Bernoulli-CRS keeps sum(prob) <= k pairs on average (Eq. 7 clips;
the mixing option keeps fewer still), which the JSON records as `kept_fraction`.
"""
import argparse
import json
import os
import pathlib
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from kernels.crs_norms import norm_products  # noqa: E402
from kernels.crs_product import crs_matmul  # noqa: E402
from kernels.crs_sampling import CrsSpec  # noqa: E402

VARIANTS = {
    "NPS, with replacement, scaled": CrsSpec("with_replacement"),
    "NPS, with replacement, unscaled": CrsSpec("with_replacement", scale=False),
    "uniform, with replacement, scaled": CrsSpec("with_replacement", "uniform"),
    "uniform, with replacement, unscaled": CrsSpec("with_replacement", "uniform", scale=False),
    "NPS, without replacement (priority), scaled": CrsSpec("without_replacement"),
    "NPS, without replacement (priority), unscaled": CrsSpec("without_replacement", scale=False),
    "uniform, without replacement, scaled": CrsSpec("without_replacement", "uniform"),
    "uniform, without replacement, unscaled":
        CrsSpec("without_replacement", "uniform", scale=False),
    "top-k": CrsSpec("topk", scale=False),
    "Bernoulli-CRS (Eq. 7), scaled": CrsSpec("bernoulli"),
    "Bernoulli-CRS exact-k, scaled": CrsSpec("bernoulli", exact_k=True),
    "Bernoulli-CRS (Eq. 7) + mix 0.1, scaled": CrsSpec("bernoulli", mix_eps=0.1),
    "Bernoulli-CRS (Eq. 7), unscaled": CrsSpec("bernoulli", scale=False),
}
PANELS = {"a: U(0,1) entries": "uniform", "b: N(0,1) entries": "normal"}
N = 100
RATIOS = np.round(np.arange(0.05, 0.951, 0.05), 2)   # k = n is exact (error 0), left out


def run(draws, seed):
    rng = np.random.default_rng(seed)
    ks = [int(round(r * N)) for r in RATIOS]
    shape = (len(PANELS), len(VARIANTS), len(ks))
    err_sum, err_sq, kept = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    from tqdm import tqdm
    for _ in tqdm(range(draws), desc="draws", file=sys.stderr):
        for p, dist in enumerate(PANELS.values()):
            A, B = (rng.random((N, N)) if dist == "uniform" else rng.standard_normal((N, N))
                    for _ in range(2))
            exact = A @ B
            c = norm_products(A, B)                     # shared by every nps variant of this draw
            denom = np.linalg.norm(A) * np.linalg.norm(B)
            for v, spec in enumerate(VARIANTS.values()):
                for j, k in enumerate(ks):
                    est, sel = crs_matmul(A, B, k, rng, spec, c=c)
                    e = np.linalg.norm(exact - est) / denom
                    err_sum[p, v, j] += e
                    err_sq[p, v, j] += e * e
                    kept[p, v, j] += sel.kept / N
    mean = err_sum / draws
    sem = np.sqrt(np.maximum(err_sq / draws - mean**2, 0) / max(draws - 1, 1))
    results = {panel: {name: {"rel_error": mean[p, v].tolist(), "rel_error_sem": sem[p, v].tolist(),
                              "kept_fraction": (kept[p, v] / draws).tolist()}
                       for v, name in enumerate(VARIANTS)}
               for p, panel in enumerate(PANELS)}
    metric = "||AB - est||_F / (||A||_F ||B||_F)"
    return {"config": {"n": N, "draws": draws, "seed": seed, "metric": metric},
            "ratios": RATIOS.tolist(), "bound_nps_with_replacement": [1 / np.sqrt(k) for k in ks],
            "results": results}


def plot(data, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(PANELS), figsize=(15, 5.5), sharey=True)
    colors = plt.get_cmap("tab20").colors
    for ax, (panel, curves) in zip(axes, data["results"].items()):
        for color, (name, cur) in zip(colors, curves.items()):
            style = (":" if name.startswith("Bernoulli") else
                     "--" if name.startswith("uniform") else "-")
            topk = name == "top-k"
            ax.plot(data["ratios"], cur["rel_error"], style, color="k" if topk else color,
                    marker="o", ms=2.5, lw=2.2 if topk else 1.2, label=name)
        ax.plot(data["ratios"], data["bound_nps_with_replacement"], "--", color="grey", lw=1,
                label="bound, NPS with replacement")
        ax.set(title=panel, xlabel="fraction of column-row pairs kept (k/n)",
               ylabel="||AB - est||_F / (||A||_F ||B||_F)", yscale="log")
        ax.grid(alpha=0.3)
    axes[-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    draws = data["config"]["draws"]
    fig.suptitle(f"CRS variants, 100x100, mean over {draws} draws (Adelman 2019 Fig. 1)")
    fig.tight_layout()
    fig.savefig(path, dpi=130)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir", type=pathlib.Path)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    data = run(args.draws, args.seed)
    (args.out_dir / "crs_error.json").write_text(json.dumps(data, indent=1))
    plot(data, args.out_dir / "crs_error.png")
    print(f"wrote {args.out_dir / 'crs_error.json'} and {args.out_dir / 'crs_error.png'}")


if __name__ == "__main__":
    main()
