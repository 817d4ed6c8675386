"""`python -m npmlp.explain propagation`: a sampling method's error, layer by layer, beside Theorem 7.2.

On the same weights and the same inputs it measures, for every layer l:

    output ratio    ||z^l - z_bar^l|| / ||z_bar^l||: the pre-activation layer l computes from its
                    sampled input against the exact one (experiments/error_propagation.py:
                    layer_ratios, the measurement the error-propagation experiment reports)
    gradient ratio  ||∇W^l_method - ∇W^l_exact|| / ||∇W^l_exact||: the method's weight gradient
                    (api.Net.step, trace) against exact backpropagation (reference.backprop)

and prints and plots them against k = l - 1, the number of sampled layers below layer l, beside
Lemma 7.1 (one sampled layer: e / a_bar = 1/c) and Theorem 7.2 (k layers: ((c+1)/c)^k - 1), with c
fitted from the first sampled layer and with the paper's c = 5.
"""
import os

import numpy as np

from .. import api
from ..errors import UserError
from ..experiments import paper
from ..experiments.error_propagation import layer_ratios, theorem72
from ..layers import activation_pair
from .text import Report


def measure(net, X, y, seed=0):
    """(output ratios, gradient ratios, kept share per hidden layer) of `net`'s method on X, y."""
    cfg = net.cfg
    act_forward, _ = activation_pair(cfg.activation, cfg.leaky_slope)
    rng = np.random.default_rng([seed, 7])     # the experiment's measurement stream
    ratios, kept = layer_ratios(net.strategy, net.params, X, rng, act_forward)
    tr = net.step(X, y, trace=True, update=False)
    grad = [float(np.linalg.norm(g.W - e.W) / max(np.linalg.norm(e.W), 1e-30))
            for g, e in zip(tr.grads, tr.exact)]
    return ratios, grad, kept


def run(method="alsh-approx", hidden=(1000,) * 5, dataset="mnist", samples=50, seed=0,
        trained=None, options=None, plot="propagation.png"):
    if samples < 1:
        raise UserError(f"--samples {samples}: expected an integer >= 1")
    fields = {"method": method, "seed": seed, **(options or {})}
    if trained:
        net, run_cfg = api.Net.from_run(trained, **fields)
        dataset, source = run_cfg.dataset, f"trained weights of {trained}"
    else:
        net, source = None, f"weights at initialisation (seed {seed})"
    data = api.load(dataset=dataset, dtype=(net.cfg.dtype if net else "float32"))
    if net is None:
        net = api.Net(data.train.X.shape[1], data.num_classes, dataset=dataset, hidden=hidden,
                      **fields)
    X, y = data.test.X[:samples], data.test.y[:samples]
    ratios, grad, kept = measure(net, X, y, seed)
    rep = Report("text")
    sizes = "-".join(map(str, net.sizes))
    rep.section("What is measured")
    rep.line(f"{method} on {dataset} {sizes}, {source}, {len(y)} test inputs.")
    rep.line("output: ||z - z_bar|| / ||z_bar|| of each layer's pre-activation computed from the "
             "exact input against from the method's sampled one (layer 1 reads the exact input: "
             "0). gradient: ||∇W_method - ∇W_exact|| / ||∇W_exact||, same weights and inputs.")
    c = 1.0 / ratios[1] if len(ratios) > 1 and ratios[1] > 0 else None
    rep.section("Error against depth (k = sampled layers below)")
    head = f"{'layer':>5} {'k':>2} {'kept':>6} {'output':>9} {'thm c=fit':>9} " \
           f"{'thm c=5':>8} {'gradient':>9}"
    rep.line(head)
    rows = []
    for l, (r, g) in enumerate(zip(ratios, grad)):
        fit = theorem72(c, l) if c else None
        five = theorem72(paper.THEOREM72_C, l)
        share = f"{kept[l]:.3f}" if l < len(kept) else "output"
        rows.append((l, r, fit, five, g))
        rep.line(f"{l + 1:>5} {l:>2} {share:>6} {r:>9.3g} "
                 f"{'-' if fit is None else format(fit, '.3g'):>9} {five:>8.3g} {g:>9.3g}")
    rep.line()
    rep.line("thm: Theorem 7.2, ((c+1)/c)^k - 1 (at k = 1 Lemma 7.1's 1/c), with c fitted from "
             "layer 2 (c = 1 / its output ratio) and with the paper's example c = 5.")
    rep.section("Reading")
    for paragraph in _reading(ratios, grad, c):
        rep.line(paragraph)
        rep.line()
    if plot:
        rep.line()
        rep.line(f"figure: {_plot(rows, method, sizes, c, plot)}")
    return rep.render(f"Error propagation: {method}, {sizes}")


def _reading(ratios, grad, c):
    """The gap between the measured curve and the theorem's, in words (one paragraph per item)."""
    out = []
    if max(ratios) == 0:
        out.append("The forward pass is exact (every output ratio is 0): no sampling error enters "
                   "the activations, so nothing compounds forward and Theorem 7.2 does not apply.")
    elif c is None:
        out.append("Layer 2's output ratio is 0, so c cannot be fitted.")
    else:
        k = len(ratios) - 1
        pred, got = theorem72(c, k), ratios[-1]
        out.append(f"Layer 2 gives c = {c:.3g}: the kept units carry {c:.3g} times the mass of the "
                   f"dropped ones. With that c the theorem predicts {pred:.3g} at the output "
                   f"(k = {k}); measured {got:.3g}.")
        if got < pred:
            out.append("Measured below the theorem: the error grows more slowly than "
                       "((c+1)/c)^k. The theorem's model is linear, with one c for every layer "
                       "and errors of one sign that add up; ReLU cuts negative parts, errors of "
                       "both signs partly cancel, and a method that rescales its kept units "
                       "(dropout's 1/p) has an unbiased estimate whose ratio stays flat.")
        else:
            out.append("Measured at or above the theorem: the error compounds at least as fast "
                       "as ((c+1)/c)^k: deeper layers keep a smaller share of their mass than "
                       "the first sampled one (c falls with depth).")
    out.append(f"The gradient error is {grad[-1]:.3g} at the output layer and {grad[0]:.3g} at "
               f"layer 1. Backpropagation runs from the output down, so an error made in a "
               f"sampled product reaches every layer below it; a method that samples the forward "
               f"pass also differentiates a different network than the exact one.")
    return out


def _plot(rows, method, sizes, c, path):
    from ..experiments import figures
    ks = [l for l, *_ in rows]
    series = {"output, measured": (ks, [r for _, r, *_ in rows]),
              "gradient, measured": (ks, [g for *_, g in rows]),
              f"Theorem 7.2, c = {paper.THEOREM72_C}": (ks, [f for *_, f, _ in rows])}
    if c is not None:
        series[f"Theorem 7.2, fitted c = {c:.3g}"] = (ks, [fit for _, _, fit, _, _ in rows])
    folder, name = os.path.split(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    figures.curve_panels(folder, name, {f"{method}, {sizes}": series},
                         "sampled layers below (k)", "relative error",
                         "error vs Theorem 7.2 (zeros not drawn)", logy=True)
    return path
