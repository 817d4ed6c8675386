"""Adelman et al. 2019, Figure 1 (a, b): the error of each CRS variant on random 100x100 products.

    python bench/crs_error.py OUT_DIR [--draws 1000] [--seed 0]

writes OUT_DIR/crs_error.json (every mean, its standard error, the mean fraction of pairs actually
kept) and OUT_DIR/crs_error.png. The curves (which products, which variants, the metric) are defined
in the package, npmlp/experiments/crs_curves.py, which the experiment `crs-error` runs too.
"""
import argparse
import json
import os
import pathlib
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from npmlp.experiments.crs_curves import plot, run  # noqa: E402  (the curves live in the package)


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
