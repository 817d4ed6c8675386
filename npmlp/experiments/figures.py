"""Matplotlib figures of the experiment suite (PNG files, no display needed).

Every function takes plain data (lists and dicts from an experiment's results.json), writes one PNG
and returns its file name, so a figure can be redrawn from stored results without running anything.
"""
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
import numpy as np  # noqa: E402


def _save(fig, folder, name):
    fig.tight_layout()
    fig.savefig(os.path.join(folder, name), dpi=110)
    plt.close(fig)
    return name


def lines(folder, name, series, xlabel, ylabel, title="", paper_points=None, logy=False,
          xticks=None):
    """series: {label: (xs, ys)}; paper_points: {label: (xs, ys)} drawn as hollow markers."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for label, (xs, ys) in series.items():
        ax.plot(xs, ys, "o-", label=label, ms=4)
    for label, (xs, ys) in (paper_points or {}).items():
        ax.plot(xs, ys, "D", mfc="none", ms=8, label=f"paper: {label}")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if logy:
        ax.set_yscale("log")
    if xticks is not None:   # every x drawn gets a tick, the paper's points too (e.g. 7 layers)
        shown = set(xticks) | {x for xs, _ in (paper_points or {}).values() for x in xs}
        ax.set_xticks(sorted(shown))
    ax.grid(alpha=0.3)
    if series or paper_points:
        ax.legend(fontsize=7)
    return _save(fig, folder, name)


def curve_panels(folder, name, panels, xlabel, ylabel, title="", logy=False):
    """panels: {panel title: {label: (xs, ys)}}, side by side with a shared y axis. logy: a log y
    axis (for quantities spanning decades), non-positive values left out of the lines."""
    n = max(len(panels), 1)
    fig, axes = plt.subplots(1, n, figsize=(3.6 * n, 3.4), sharey=True, squeeze=False)
    for ax, (ptitle, series) in zip(axes[0], panels.items()):
        for label, (xs, ys) in series.items():
            if logy:
                kept = [(x, y) for x, y in zip(xs, ys) if y is not None and y > 0]
                xs, ys = [x for x, _ in kept], [y for _, y in kept]
            ax.plot(xs, ys, "o-", ms=3, label=label)
        if logy:
            ax.set_yscale("log")
        ax.set(title=ptitle, xlabel=xlabel)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if series:
            ax.legend(fontsize=6)
    axes[0][0].set_ylabel(ylabel)
    fig.suptitle(title)
    return _save(fig, folder, name)


def grouped_bars(folder, name, groups, series, ylabel, title="", errors=None):
    """groups: x labels; series: {label: [value per group]}; errors: same shape (std) or None."""
    x = np.arange(len(groups))
    width = 0.8 / max(len(series), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(groups)), 4.0))
    for i, (label, values) in enumerate(series.items()):
        vals = [np.nan if v is None else v for v in values]
        err = None if errors is None else [0 if e is None else e for e in errors[label]]
        ax.bar(x + (i - (len(series) - 1) / 2) * width, vals, width, yerr=err, label=label,
               capsize=2)
    ax.set_xticks(x)
    ax.set_xticklabels(groups, rotation=20, ha="right", fontsize=8)
    ax.set(ylabel=ylabel, title=title)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=7)
    return _save(fig, folder, name)


def matrix_grid(folder, name, rows, cols, cells, title="", xlabel="", ylabel="", cmap="Blues",
                vmax=None):
    """cells[(row, col)] -> 2-D array (None: empty panel). One image per cell, rows x cols."""
    fig, axes = plt.subplots(len(rows), len(cols), figsize=(1.9 * len(cols) + 1, 1.9 * len(rows)),
                             squeeze=False)
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            ax = axes[i][j]
            m = cells.get((r, c))
            if m is not None:
                ax.imshow(np.asarray(m, dtype=float), cmap=cmap, vmin=0, vmax=vmax)
            else:
                ax.text(0.5, 0.5, "not run", ha="center", va="center", fontsize=7)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(str(c), fontsize=8)
            if j == 0:
                ax.set_ylabel(str(r), fontsize=7)
    fig.suptitle(title + (f"\n{ylabel} (rows) x {xlabel} (columns)" if xlabel else ""), fontsize=9)
    return _save(fig, folder, name)


def heat_rows(folder, name, panels, xlabels, ylabel, title="", vmax=None):
    """panels: {panel title: (row labels, 2-D array rows x len(xlabels))}, one heatmap per panel."""
    n = max(len(panels), 1)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.2), squeeze=False)
    for ax, (ptitle, (rlabels, m)) in zip(axes[0], panels.items()):
        im = ax.imshow(np.asarray(m, dtype=float), cmap="magma", aspect="auto", vmin=0, vmax=vmax)
        ax.set_xticks(range(len(xlabels)))
        long = max(map(len, xlabels), default=0) > 2          # class names, not digits
        ax.set_xticklabels(xlabels, fontsize=6 if long else 7, rotation=45 if long else 0,
                           ha="right" if long else "center")
        ax.set_yticks(range(len(rlabels)))
        ax.set_yticklabels(rlabels, fontsize=7)
        ax.set(title=ptitle, xlabel="label", ylabel=ylabel)
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle(title)
    return _save(fig, folder, name)
