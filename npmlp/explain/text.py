"""Output for the explain commands: the same content as a terminal report (80 columns) or as a
markdown document (headings, each section's body in a text block)."""
import textwrap

import numpy as np

WIDTH = 80


def fmt_array(a, precision=4, max_rows=6, max_cols=10):
    """A small array in full; a large one summarised (shape, mean, std, range and a corner)."""
    a = np.asarray(a)
    if a.dtype.kind == "f":
        a = a + 0.0          # -0.0 prints as "-0."; a dropped unit's gradient is just 0
    if a.ndim == 0:
        return f"{float(a):.{precision}g}"
    rows = 1 if a.ndim == 1 else a.shape[0]
    cols = a.shape[-1]
    opts = dict(precision=precision, suppress_small=True, max_line_width=WIDTH - 6,
                floatmode="maxprec")
    if rows <= max_rows and cols <= max_cols:
        return np.array2string(a, **opts)
    corner = a[:min(rows, 2), :4] if a.ndim == 2 else a[:4]
    stats = (f"shape {a.shape}: mean {a.mean():.3g}, std {a.std():.3g}, "
             f"min {a.min():.3g}, max {a.max():.3g}, {np.count_nonzero(a)} non-zero")
    return stats + "\n" + "corner " + np.array2string(corner, **opts).replace("\n", "\n       ")


class Report:
    """Collects sections; `render()` gives the terminal text or the markdown document."""

    def __init__(self, fmt="text"):
        self.fmt = fmt
        self.parts = []          # (title, [lines])

    def section(self, title):
        self.parts.append((title, []))

    def line(self, text=""):
        """One line; a long one is wrapped to the terminal width at its own indentation."""
        lead = " " * (len(text) - len(text.lstrip()))
        self.parts[-1][1].extend(textwrap.wrap(text, WIDTH - 2, subsequent_indent=lead) or [""])

    def array(self, name, a, note=""):
        body = fmt_array(a)
        head = f"{name} {tuple(np.shape(a))}"
        if "\n" in body or len(head) + 3 + len(body) > WIDTH - 2:
            self.line(head + (f"  {note}" if note else ""))
            for row in body.split("\n"):
                self.line("    " + row)
        else:
            self.line(f"{head} = {body}" + (f"  {note}" if note else ""))

    def render(self, title):
        if self.fmt == "markdown":
            out = [f"# {title}", ""]
            for sec, lines in self.parts:
                out += [f"## {sec}", "", "```text", *lines, "```", ""]
            return "\n".join(out)
        out = [title, "=" * min(len(title), WIDTH), ""]
        for sec, lines in self.parts:
            out.append(f"-- {sec} " + "-" * max(WIDTH - 4 - len(sec), 0))
            out += [("  " + s).rstrip() for s in lines] + [""]
        return "\n".join(out)
