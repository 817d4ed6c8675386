"""`python -m npmlp.explain step`: one training step, every equation with its shapes and numbers.

The step is `api.Net.step(trace=True)`: the strategy's forward and backward and the optimiser, the
calls training makes. Beside the method's gradient it prints the numerical gradient of the method's
own loss with its random choice frozen (central differences, npmlp/reference.py) and the exact
gradient of the same weights (reference.backprop): for an exact method all three agree; a method
that samples its forward pass (dropout, ALSH) agrees with the numerical one and differs from the
exact one; a method that samples its backward products (MC-APPROX) differs from both.

Notation: the paper writes z^k = a^{k-1} W^k + b^k with W^k (D_{k-1}, D_k); npmlp stores W (D_k,
D_{k-1}), the paper's W^k transposed, and prints it that way. Layers count from 1 as in the paper.
"""
import numpy as np

from .. import api
from .text import Report

SAMPLE = np.array([[0.9, 0.1, 0.4, 0.7]])   # the fixed default sample, D_0 = 4
LABEL = np.array([1])
N_CLASSES = 2
# The default seed draws weights under which all six hidden units are active on SAMPLE (z > 0), so
# every weight of the exact step has a non-zero gradient; seed 0 leaves three of them dead.
SEED = 30

# The paper's settings keep 5% of 1,000 units; on 3 units that keeps none (or exactly one, or all
# of them for MC's k_min = 10). These keep about half, so the step shows a real choice.
TINY = {
    "dropout": {"dropout_keep": 0.5},
    "adaptive-dropout": {"standout_target_keep": 0.5},
    "alsh-approx": {"alsh_active": 0.67, "alsh_bits": 2, "alsh_tables": 3},
    "mc-approx": {"mc_rho_bwd": 0.5, "mc_kmin_bwd": 1, "mc_rho_wu": 0.5, "mc_kmin_wu": 1},
}
TINY_MAX_UNITS = 20             # hidden layers up to this width get the settings above
NUMERIC_MAX_WEIGHTS = 20_000    # central differences beyond this take too long for a terminal


def run(method="standard", hidden=(3, 3), seed=SEED, dataset=None, batch_size=1, optimizer="sgd",
        lr=0.1, fmt="text", options=None):
    """Build the network, take one traced step, return the report as a string."""
    fields = dict(method=method, hidden=hidden, seed=seed, optimizer=optimizer, lr=lr,
                  dtype="float64", batch_size=batch_size)
    tiny = TINY.get(method, {}) if max(hidden) <= TINY_MAX_UNITS else {}
    fields.update(tiny)
    fields.update(options or {})
    if dataset:
        data = api.load(**{**fields, "dataset": dataset, "dtype": "float64"})
        x, y = data.train.X[:batch_size], data.train.y[:batch_size]
        n_inputs, n_classes, what = x.shape[1], data.num_classes, f"the first {len(y)} of {dataset}"
    else:
        x, y = np.repeat(SAMPLE, batch_size, 0), np.repeat(LABEL, batch_size)
        n_inputs, n_classes, what = SAMPLE.shape[1], N_CLASSES, "the fixed sample"
    net = api.Net(n_inputs, n_classes, **fields)
    numeric = sum(p.W.size + p.b.size for p in net.params) <= NUMERIC_MAX_WEIGHTS
    tr = net.step(x, y, trace=True, numeric=numeric)
    rep = Report(fmt)
    _header(rep, net, tr, what, {**tiny, **(options or {})})
    _forward(rep, net, tr)
    _loss(rep, tr)
    _backward(rep, net, tr, numeric)
    _update(rep, net, tr)
    sizes = "-".join(map(str, net.sizes))
    return rep.render(f"One training step: {method}, network {sizes}, batch {len(y)}")


def _header(rep, net, tr, what, changed):
    cfg = net.cfg
    rep.section("Setup")
    rep.line(f"input: {what}; {cfg.activation} hidden units; log-softmax + NLL")
    rep.line(f"optimiser {cfg.optimizer}, lr {cfg.lr}; seed {cfg.seed}; float64")
    if changed:
        rep.line("set for this network: " + ", ".join(f"{k}={v}" for k, v in changed.items()))
    rep.line("W^k is printed as stored, (units, inputs): the paper's W^k transposed.")
    rep.array("x = a^0", tr.x)
    rep.array("y", tr.y)


def _forward(rep, net, tr):
    s = net.strategy
    rep.section("Forward (EDBT §4)    npmlp/layers.py:dense_forward, strategies/")
    for l, (W, b) in enumerate(tr.before):
        k = l + 1
        out = l == len(tr.before) - 1
        n, d_in = tr.a[l - 1].shape if l else tr.x.shape
        rep.line(f"layer {k} ({'output' if out else 'hidden'}): "
                 f"z^{k} = a^{k - 1} W^{k} + b^{k}   ({n}, {d_in}) x ({d_in}, {W.shape[0]}) "
                 f"+ ({W.shape[0]},) -> ({n}, {W.shape[0]})")
        rep.array(f"  W^{k}", W)
        rep.array(f"  b^{k}", b)
        rep.array(f"  z^{k}", tr.z[l])
        if not out:
            rep.array(f"  a^{k} = f(z^{k}) as passed on", tr.a[l])
        _choice(rep, s, l, tr)
        rep.line()


def _choice(rep, strategy, l, tr):
    """What a sampling method chose at layer l (forward side)."""
    sel = tr.sel[l]
    if tr.alsh[l]:
        al = tr.alsh[l]
        rep.line(f"  ALSH (Eq. 2-4): query Q(a^{l}) hashed into bucket {al['qcodes'].tolist()} of "
                 f"the {len(al['buckets'])} tables")
        for t, units in enumerate(al["buckets"]):
            rep.line(f"    table {t + 1}: bucket {al['qcodes'][t]} holds units "
                     f"{(units + 1).tolist()}")
        rep.line(f"    active set S = units {(sel.idx + 1).tolist()}; the true top-"
                 f"{len(al['top'])} by z: {(al['top'] + 1).tolist()}")
    elif hasattr(sel, "idx") and not strategy.is_output(l):
        scale = sel.scale
        rep.line(f"  kept units {(sel.idx + 1).tolist()} of {tr.z[l].shape[1]}, scaled by "
                 f"{np.round(scale, 4)}; the others output 0")
    elif isinstance(sel, np.ndarray):
        rep.array("  mask (kept units carry their scale)", sel)
    fwd = tr.crs[l].get("fwd")
    if fwd is not None and fwd[0].idx is not None:
        from kernels.crs_product import sampled_matmul
        _crs_lines(rep, "forward z = a W^T, over inputs", *fwd)
        a_in = tr.x if l == 0 else tr.a[l - 1]
        W, b = tr.before[l]
        rep.array(f"  z^{l + 1} from the kept pairs", sampled_matmul(a_in, W.T, fwd[0]) + b)


def _crs_lines(rep, what, sel, prob):
    if sel.idx is None:
        return
    rep.line(f"  CRS (Eq. 5-7), {what}:")
    rep.line(f"    kept {sel.kept} of {sel.n} column-row pairs")
    for j, i in enumerate(sel.idx[:8]):
        scale = 1.0 if sel.scale is None else sel.scale[j]
        p = "1 (no draw: the kept pairs are all the non-zero ones)" if prob is None else \
            f"{prob[i]:.4g}"
        rep.line(f"    pair {i + 1}: probability {p}, scale {scale:.4g}")
    if sel.kept > 8:
        rep.line(f"    ... {sel.kept - 8} more")


def _loss(rep, tr):
    rep.section("Loss (EDBT §8.4)    npmlp/losses.py:log_softmax_nll")
    rep.array("softmax(z^L)", tr.probs)
    rep.line(f"L = -(1/N) sum_n log softmax(z^L)_n[y_n] = {tr.loss:.6f}")
    rep.line("delta^L = dL/dz^L = (softmax(z^L) - onehot(y)) / N")


def _rel(a, b):
    d = np.linalg.norm(b)
    return np.linalg.norm(a - b) / d if d > 0 else float(np.linalg.norm(a))


def _backward(rep, net, tr, numeric):
    rep.section("Backward (EDBT Eq. 1)    layers.py:dense_backward, WeightGrad")
    cfg = net.cfg
    if cfg.method == "standard":
        rep.line("Exact: the method's, the numerical and the exact gradient agree.")
    elif cfg.method == "mc-approx" and cfg.mc_mode == "backward":
        rep.line("The forward pass is exact, so the numerical gradient is the exact one; the")
        rep.line("method's differs by the error of its sampled products (CRS, Eq. 5-7).")
    elif cfg.method == "mc-approx":
        rep.line("Forward and backward products are sampled: the numerical gradient is that of "
                 "the network the forward pass sampled, and the method's estimates it with "
                 "sampled backward products (CRS, Eq. 5-7), so it differs from both.")
    else:
        rep.line("The method differentiates the network it sampled: its gradient equals the")
        rep.line("numerical one of that network; the exact gradient of the full network differs")
        rep.line("by the sampling error of the forward choice.")
    rep.line()
    L = len(tr.before)
    for l in reversed(range(L)):
        k = l + 1
        if l == L - 1:
            rep.line(f"layer {k}: delta^{k} = (softmax(z^{k}) - onehot(y)) / N")
        else:
            rep.line(f"layer {k}: delta^{k} = f'(z^{k}) ⊙ delta^{k + 1} W^{k + 1}")
        rep.array(f"  delta^{k}", tr.delta[l])
        for which in ("bwd", "wu"):
            rec = tr.crs[l].get(which)
            if rec is not None:
                what = (f"delta^{k} W^{k} (to layer {k - 1}), over units" if which == "bwd"
                        else "weight gradient, over the batch")
                _crs_lines(rep, what, *rec)
        g, e = tr.grads[l], tr.exact[l]
        rep.line(f"  ∇W^{k} = a^{k - 1} delta^{k} (stored: delta^T a, ({g.W.shape[0]}, N)(N, "
                 f"{g.W.shape[1]}));  ∇b^{k} = sum_n delta^{k}")
        rep.array(f"  ∇W^{k}", g.W)
        rep.array(f"  ∇b^{k}", g.b)
        if numeric:
            num = tr.numeric[l]
            rep.array(f"  numerical ∇W^{k}", num.W, "(central differences, choice frozen)")
            rep.line(f"  max |numerical - analytic| = {np.abs(num.W - g.W).max():.2e}")
        rep.line(f"  exact ∇W^{k} (reference.backprop, same weights): relative difference "
                 f"{_rel(g.W, e.W):.3g}")
        rep.line()
    if not numeric:
        rep.line("numerical gradients skipped: more than "
                 f"{NUMERIC_MAX_WEIGHTS:,} weights (use a smaller --hidden)")


UPDATE_RULES = {
    "sgd": "v <- mu v + ∇W;  W <- W - lr v   (momentum mu = 0: W <- W - lr ∇W)",
    "adam": "m <- b1 m + (1-b1) ∇W; v <- b2 v + (1-b2) ∇W^2; W <- W - lr m^ / (sqrt(v^) + eps)",
    "adagrad": "h <- h + ∇W^2; W <- W - lr ∇W / (sqrt(h) + eps)",
}


def _update(rep, net, tr):
    cfg = net.cfg
    rep.section(f"Update ({cfg.optimizer})    npmlp/optim.py, kernels/update.py, reference.update")
    rep.line(UPDATE_RULES[cfg.optimizer])
    for l, ((W0, b0), (W1, b1)) in enumerate(zip(tr.before, tr.after)):
        rep.array(f"  W^{l + 1} change", W1 - W0)
        rep.array(f"  b^{l + 1} change", b1 - b0)
