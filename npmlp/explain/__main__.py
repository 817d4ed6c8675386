"""python -m npmlp.explain step|propagation: see npmlp/explain/__init__.py."""
import argparse
import sys
from dataclasses import fields

from ..config import Config, parse_hidden
from ..errors import UserError

EXAMPLES = """examples:
  python -m npmlp.explain step                             # 4-3-3-2 network, one sample, STANDARD
  python -m npmlp.explain step --method alsh-approx        # what the hash tables chose
  python -m npmlp.explain step --method all --format markdown > step.md
  python -m npmlp.explain step --dataset mnist --hidden 4,4 --batch-size 2
  python -m npmlp.explain propagation --method alsh-approx --hidden 5x1000
  python -m npmlp.explain propagation --trained runs/NAME  # the weights of a finished run
"""


def _option(text):
    """FIELD=VALUE for any field of npmlp/config.py (converted to the field's type)."""
    name, sep, value = text.partition("=")
    types = {f.name: type(f.default) for f in fields(Config)}
    name = name.strip().replace("-", "_")
    if not sep or name not in types:
        raise argparse.ArgumentTypeError(f"expected FIELD=VALUE with FIELD one of npmlp/config.py's "
                                         f"fields (e.g. dropout_keep=0.3), got {text!r}")
    kind = types[name]
    try:
        if kind is bool:
            return name, value.lower() in ("1", "true", "yes", "on")
        if kind is tuple:
            return name, parse_hidden(value)
        return name, kind(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{name}: {value!r} is not a {kind.__name__}") from None


def build_parser():
    from ..strategies import STRATEGIES
    p = argparse.ArgumentParser(prog="python -m npmlp.explain", description=__doc__,
                                epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, metavar="step|propagation")
    methods = tuple(STRATEGIES)
    s = sub.add_parser("step", help="one traced training step of a tiny network",
                       description="One training step, layer by layer: each equation (EDBT §4, "
                       "Eq. 1, the optimiser), its shapes and numbers, the numerical gradient "
                       "beside the analytic one, and what a sampling method chose.")
    s.add_argument("--method", default="standard", choices=methods + ("all",),
                   help="training method, or 'all' for each in turn [default: standard]")
    s.add_argument("--hidden", default="3,3", help="hidden layer sizes [default: 3,3]")
    s.add_argument("--seed", type=int, default=None, help="seed of the weights and random choices "
                   "[default: 30, under which every hidden unit of the default network is active]")
    s.add_argument("--dataset", help="take the first --batch-size training samples of this dataset "
                   "instead of the fixed 4-feature sample")
    s.add_argument("--batch-size", type=int, default=1, help="[default: 1]")
    s.add_argument("--optimizer", default="sgd", choices=("sgd", "adam", "adagrad"),
                   help="[default: sgd]")
    s.add_argument("--lr", type=float, default=0.1, help="[default: 0.1]")
    s.add_argument("--set", type=_option, action="append", default=[], metavar="FIELD=VALUE",
                   help="any other training option, e.g. --set dropout_keep=0.3 (repeatable)")
    s.add_argument("--format", default="text", choices=("text", "markdown"), help="[default: text]")

    q = sub.add_parser("propagation", help="sampling error against depth, beside Theorem 7.2",
                       description="On the same weights and inputs, the relative error of each "
                       "layer's output and gradient under a method against exact, printed and "
                       "plotted against depth beside Lemma 7.1 and Theorem 7.2.")
    q.add_argument("--method", default="alsh-approx", choices=methods,
                   help="[default: alsh-approx]")
    q.add_argument("--hidden", default="5x1000", help="hidden layer sizes [default: 5x1000]")
    q.add_argument("--dataset", default="mnist", help="inputs from this dataset's test split "
                   "[default: mnist]")
    q.add_argument("--samples", type=int, default=50, help="inputs measured [default: 50]")
    q.add_argument("--seed", type=int, default=0, help="[default: 0]")
    q.add_argument("--trained", metavar="RUN_DIR", help="measure the weights of this run folder's "
                   "checkpoint.npz (its own dataset and layer sizes)")
    q.add_argument("--set", type=_option, action="append", default=[], metavar="FIELD=VALUE",
                   help="any other training option, e.g. --set alsh_active=0.1 (repeatable)")
    q.add_argument("--plot", default="propagation.png", help="figure file [default: propagation.png]")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        hidden = parse_hidden(args.hidden)
        options = dict(args.set)
        if args.command == "step":
            from ..strategies import STRATEGIES
            from .step import SEED, run
            if args.batch_size < 1:
                raise UserError(f"--batch-size {args.batch_size}: expected an integer >= 1")
            methods = list(STRATEGIES) if args.method == "all" else [args.method]
            for m in methods:
                seed = SEED if args.seed is None else args.seed
                print(run(m, hidden, seed, args.dataset, args.batch_size, args.optimizer,
                          args.lr, args.format, options))
        else:
            from .propagation import run
            print(run(args.method, hidden, args.dataset, args.samples, args.seed, args.trained,
                      options, args.plot))
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
