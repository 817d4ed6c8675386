"""Adelman et al. 2019, Figure 1 (a, b): the error of each CRS variant on random 100x100 products.

`run(draws, seed)` returns every mean, its standard error and the mean fraction of pairs actually
kept; `plot(data, path)` draws both panels. The experiment `crs-error` (crs_error.py) and the script
`bench/crs_error.py` both call them. For each draw, fresh A, B (100 x 100) with i.i.d. U(0, 1) entries
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
import sys

import numpy as np
from tqdm import tqdm

from kernels.crs_norms import norm_products
from kernels.crs_product import crs_matmul
from kernels.crs_sampling import CrsSpec

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


def run(draws, seed, progress=True):
    """Mean relative error (and its standard error, and the kept fraction) of every variant."""
    rng = np.random.default_rng(seed)
    ks = [int(round(r * N)) for r in RATIOS]
    shape = (len(PANELS), len(VARIANTS), len(ks))
    err_sum, err_sq, kept = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    for _ in tqdm(range(draws), desc="draws", file=sys.stderr, disable=not progress):
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
    """Both panels of Fig. 1 from `run`'s dict, saved to `path`."""
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
