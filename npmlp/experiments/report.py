"""Markdown: one section per experiment, and REPORT.md that puts every present section together.

Numbers are ours beside the paper's, with the paper's table or figure named; every section says how
it was produced (profile, epochs, training samples) and the command that regenerates it. Paths in the
report are relative to the report, so the results folder can be committed and moved.
"""
import os
import platform

from ..runs import write_atomic

REPORT_NAME = "REPORT.md"


def write_text(path, text):
    write_atomic(path, text)


# ---------------------------------------------------------------- formatting helpers

def md_table(headers, rows):
    """A GitHub markdown table; cells are str()-ed, None becomes an en dash."""
    def cell(v):
        return "–" if v is None else str(v)
    lines = ["| " + " | ".join(map(cell, headers)) + " |",
             "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def pct(fraction, digits=2):
    """0.9812 -> '98.12'; None -> None."""
    return None if fraction is None else f"{100 * fraction:.{digits}f}"


def mean_std(values, digits=2):
    import numpy as np
    if not values:
        return None
    v = np.asarray(values, dtype=float)
    std = v.std(ddof=1) if v.size > 1 else 0.0
    return f"{v.mean():.{digits}f} ± {std:.{digits}f}"


def vs(ours, paper, digits=2):
    """'ours (paper P)' for a table cell."""
    if ours is None and paper is None:
        return None
    o = "–" if ours is None else f"{ours:.{digits}f}"
    return o if paper is None else f"{o} (paper {paper:.{digits}f})"


def image(folder_name, file_name, alt):
    return f"![{alt}]({folder_name}/{file_name})\n"


def bullet_list(items):
    return "".join(f"- {item}\n" for item in items)


# ---------------------------------------------------------------- sections and the report

def section(exp, ctx, analysis, body):
    p = ctx.profile
    lines = [f"## {exp.title} (`{exp.name}`)\n",
             f"Reproduces: {exp.paper}. Profile `{p.name}`: hidden width {p.width}, "
             f"{p.epochs} epoch(s) per accuracy run, training samples "
             f"{p.limit or 'all'}; timing runs {p.timing_epochs} epoch(s) on "
             f"{p.timing_limit or 'all'} samples, {p.repeats} repeat(s).\n",
             f"Regenerate: `{analysis.get('command') or ctx.command}`\n"]
    if analysis.get("notes"):
        lines.append("Left out:\n\n" + bullet_list(analysis["notes"]))
    lines.append(body.rstrip() + "\n")
    return "\n".join(lines)


def machine_summary():
    cpus = os.cpu_count()
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")),
                         platform.processor())
    except OSError:
        model = platform.processor()
    return f"{model}, {cpus} logical CPUs, Python {platform.python_version()}"


def write_report(out):
    """OUT/REPORT.md from every OUT/<experiment>/section.md present, in the registry's order."""
    from .registry import experiments
    parts, toc = [], []
    for name, exp in experiments().items():
        path = os.path.join(out, name, "section.md")
        if not os.path.exists(path):
            continue
        with open(path) as f:
            parts.append(f.read())
        toc.append(f"- [{exp.title}](#{_anchor(exp)})")
    header = ["# npmlp: the EDBT 2025 evaluation, reproduced\n",
              "Ebrahimi, Advani & Asudeh, *Evaluating the Feasibility of Sampling-Based Techniques "
              "for Training Multilayer Perceptrons* (EDBT 2025; tech report arXiv 2306.09293). "
              "Each section shows our numbers beside the paper's and the command that regenerates "
              "them. Why several of the paper's numbers cannot be expected to reproduce is in "
              "`notes/reference-implementations.md` §8–9 (in this repository; summarised per "
              "method in each section, where it is cited as 'notes §N').\n",
              f"Machine: {machine_summary()}.\n", "\n".join(toc) + "\n"]
    path = os.path.join(out, REPORT_NAME)
    write_text(path, "\n".join(header + parts))
    return path


def scale_caveat(profile):
    """One paragraph, for accuracy sections of a reduced profile: how much less training it does
    than the paper, so a reader weighs the gaps below by that first."""
    if profile.name == "paper":
        return ""
    samples = profile.limit or 55_000
    steps = profile.epochs * samples
    return (f"**Scale.** Profile `{profile.name}` trains {profile.epochs} epoch(s) on {samples:,} "
            f"samples ({steps:,} sample-steps) where the paper trains 50 epochs on 55,000 "
            f"(2,750,000): {2_750_000 / steps:.0f}x less. Every gap to the paper below includes that; "
            f"the ranking of the methods (and, across depths, the trend) is the comparable part.\n")


def _anchor(exp):
    text = f"{exp.title} ({exp.name})".lower()
    keep = [c if c.isalnum() or c in " -_" else "" for c in text]
    return "".join(keep).replace(" ", "-")


def agreement(label, comparisons, tolerance, unit="points", method=None):
    """One paragraph for a variant: where our numbers agree with the paper's and where they differ.

    comparisons: [(what, ours, paper)]; agreement means |ours - paper| <= tolerance. Why they differ
    is said once per method, by reasons_once(), not in every variant's paragraph."""
    from .paper import NOT_IN_PAPER, NOT_IN_PAPER_TEXT
    if method in NOT_IN_PAPER:
        return f"**{label}.** {NOT_IN_PAPER_TEXT}\n"
    pairs = [(w, o, p) for w, o, p in comparisons if o is not None and p is not None]
    agree = [f"{w} ({o:.2f} vs {p:.2f})" for w, o, p in pairs if abs(o - p) <= tolerance]
    differ = [f"{w} ({o:.2f} vs {p:.2f}, {o - p:+.2f})" for w, o, p in pairs if abs(o - p) > tolerance]
    text = f"**{label}.** "
    if not pairs:
        text += "No number of ours has a published counterpart in this profile."
    if agree:
        text += f"Within {tolerance:g} {unit} of the paper: " + "; ".join(agree) + ". "
    if differ:
        text += "Differs: " + "; ".join(differ) + "."
    return text.rstrip() + "\n"


def reasons_once(labelled_methods, reasons, what="differ from the paper's"):
    """'Why our numbers differ', one paragraph per method however many variants (batch sizes) of it
    the section shows. labelled_methods: [(variant label, method)] in the section's order."""
    labels = {}
    for label, method in labelled_methods:
        labels.setdefault(method, []).append(label)
    out = []
    for method, names in labels.items():
        why = reasons.get(method)
        if why:
            out.append(f"**{', '.join(names)}: why our numbers {what}.** {why}\n")
    return out
