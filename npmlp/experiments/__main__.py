"""python -m npmlp.experiments: run the EDBT paper's experiments and write results beside the paper's.

Each experiment is a grid of runs keyed by a hash of their full config: a finished run is never
computed again, and running the same command after an interruption resumes where it stopped.

Output goes to a folder of your own (--out, default ./npmlp-results). The repository's published
results/ is written only with --publish. A run already finished in results/runs is copied into your
folder instead of being computed again, and counted as reused.
"""
import argparse
import os
import shlex
import sys

from ..errors import UserError

EXAMPLES = """examples:
  python -m npmlp.experiments list
  python -m npmlp.experiments table2 --profile quick                 # minutes on 2 cores
  python -m npmlp.experiments all --profile quick --datasets mnist fashion-mnist
  python -m npmlp.experiments accuracy-vs-depth --profile paper --scheduler tcp://10.0.0.1:8786
  python -m npmlp.experiments report                                 # rewrite npmlp-results/REPORT.md
  python -m npmlp.experiments crs-error --publish                    # write the published results/
"""
DEFAULT_OUT = "npmlp-results"
# The published results of this repository (the folder beside the npmlp package, when installed from
# a clone): written only with --publish, read from to reuse finished runs.
PUBLISHED = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                         "results")


def build_parser():
    from .profiles import PROFILES
    p = argparse.ArgumentParser(prog="python -m npmlp.experiments", description=__doc__.split("\n\n")[0],
                                epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", help="an experiment (see `list`), 'all', 'list', or 'report'")
    p.add_argument("--profile", default="quick", choices=tuple(PROFILES),
                   help="grid size: quick (minutes on 2 cores, 5,000 training samples), short (quick on the "
                        "whole training split), paper (the paper's settings), "
                        "test (tiny, synthetic; what the tests run) [default: quick]")
    p.add_argument("--datasets", nargs="+", metavar="NAME",
                   help="datasets to use instead of the experiment's defaults")
    p.add_argument("--out", help=f"results folder [default: {DEFAULT_OUT}]")
    p.add_argument("--publish", action="store_true",
                   help="write the repository's published results/ (REPORT.md, sections, figures, "
                        "runs) instead of --out")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="local worker processes (each run uses one thread) [default: CPU count]")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="run on this Dask distributed scheduler instead of locally")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def list_experiments():
    from .registry import experiments
    lines = []
    for name, e in experiments().items():
        lines.append(f"  {name:<18} {e.title} ({e.paper})")
    return "experiments:\n" + "\n".join(lines)


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return _main(args, argv)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code


def output_folder(args):
    """(folder to write, run stores to reuse finished runs from)."""
    if args.publish and args.out and os.path.abspath(args.out) != os.path.abspath(PUBLISHED):
        raise UserError(f"--publish writes {os.path.relpath(PUBLISHED)}; leave out --out {args.out}, "
                        f"or drop --publish to write {args.out}.")
    out = PUBLISHED if args.publish else (args.out or DEFAULT_OUT)
    if os.path.abspath(out) == os.path.abspath(PUBLISHED):
        return os.path.relpath(out), ()
    published_runs = os.path.join(PUBLISHED, "runs")
    return out, ((os.path.relpath(published_runs),) if os.path.isdir(published_runs) else ())


def _main(args, argv):
    from . import report
    from .profiles import get_profile
    from .registry import Context, command_name, experiments, get_experiment
    from .suite import run_experiment
    args.name = command_name(args.name)
    if args.name == "list":
        print(list_experiments())
        return 0
    out, reuse = output_folder(args)
    if args.name == "report":
        print(f"wrote {report.write_report(out)}")
        return 0
    names = list(experiments()) if args.name == "all" else [get_experiment(args.name).name]
    if args.workers < 1:
        raise UserError(f"--workers {args.workers} is invalid: expected an integer >= 1")
    if args.datasets:
        from ..config import pick
        from ..data import DATASET_NAMES
        args.datasets = [pick("dataset", d, DATASET_NAMES) for d in args.datasets]
    words = ["python", "-m", "npmlp.experiments"] + list(sys.argv[1:] if argv is None else argv)
    ctx = Context(profile=get_profile(args.profile), out=out, reuse_from=reuse,
                  datasets=tuple(args.datasets) if args.datasets else None,
                  progress=not args.no_progress)
    for name in names:
        words_for = [name if w == args.name else w for w in words]
        ctx.command = " ".join(shlex.quote(w) for w in words_for)
        print(f"== {name} (profile {args.profile}) ==", flush=True)
        run_experiment(name, ctx, workers=args.workers, scheduler=args.scheduler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
