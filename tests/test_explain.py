"""`python -m npmlp.explain`: the traced default step against a hand computation, every method, the
markdown form, bad input, and the propagation command on a small network."""
import math

import numpy as np
import pytest

from npmlp import api
from npmlp.explain import step as explain_step
from npmlp.explain.__main__ import main


def _default_net():
    """The network `python -m npmlp.explain step` builds by default."""
    return api.Net(4, 2, hidden=(3, 3), method="standard", seed=explain_step.SEED,
                   optimizer="sgd", lr=0.1, dtype="float64", batch_size=1)


def _hand_step(W, b, x, label, lr):
    """One SGD step of a ReLU network on one sample, with scalar loops only: every sum written out."""
    L = len(W)
    a = [list(x)]
    zs = []
    for l in range(L):                       # z_j = sum_i W[j][i] a_i + b_j;  a_j = max(z_j, 0)
        z = [sum(W[l][j][i] * a[l][i] for i in range(len(a[l]))) + b[l][j]
             for j in range(len(b[l]))]
        zs.append(z)
        a.append(z if l == L - 1 else [max(v, 0.0) for v in z])
    m = max(zs[-1])
    e = [math.exp(v - m) for v in zs[-1]]
    p = [v / sum(e) for v in e]
    loss = -math.log(p[label])
    delta = [p[j] - (1.0 if j == label else 0.0) for j in range(len(p))]    # N = 1
    deltas, gW = [None] * L, [None] * L
    for l in reversed(range(L)):
        if l < L - 1:                        # delta_i = 1[z_i > 0] sum_j delta_j W[l+1][j][i]
            up = deltas[l + 1]
            delta = [(1.0 if zs[l][i] > 0 else 0.0) *
                     sum(up[j] * W[l + 1][j][i] for j in range(len(up)))
                     for i in range(len(zs[l]))]
        deltas[l] = delta
        gW[l] = [[delta[j] * a[l][i] for i in range(len(a[l]))] for j in range(len(delta))]
    newW = [[[W[l][j][i] - lr * gW[l][j][i] for i in range(len(W[l][j]))]
             for j in range(len(W[l]))] for l in range(L)]
    newb = [[b[l][j] - lr * deltas[l][j] for j in range(len(b[l]))] for l in range(L)]
    return zs, a, loss, p, deltas, gW, newW, newb


def test_default_traced_step_matches_a_hand_computation():
    net = _default_net()
    W = [p.W.tolist() for p in net.params]
    b = [p.b.tolist() for p in net.params]
    x = explain_step.SAMPLE[0].tolist()
    label = int(explain_step.LABEL[0])
    zs, a, loss, p, deltas, gW, newW, newb = _hand_step(W, b, x, label, 0.1)
    tr = net.step(explain_step.SAMPLE, explain_step.LABEL, trace=True, numeric=True)
    assert tr.loss == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(tr.probs[0], p, rtol=1e-12)
    for l in range(3):
        np.testing.assert_allclose(tr.z[l][0], zs[l], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(tr.a[l][0], a[l + 1], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(tr.delta[l][0], deltas[l], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(tr.grads[l].W, gW[l], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(tr.numeric[l].W, gW[l], rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(tr.after[l][0], newW[l], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(tr.after[l][1], newb[l], rtol=1e-12, atol=1e-15)
    # the default network is the one the docstring promises: every hidden unit active
    assert all(v > 0 for l in range(2) for v in zs[l])


def test_step_prints_the_hand_computed_numbers(capsys):
    assert main(["step"]) == 0
    out = capsys.readouterr().out
    net = _default_net()
    x = explain_step.SAMPLE[0].tolist()
    _, _, loss, *_ = _hand_step([p.W.tolist() for p in net.params],
                                [p.b.tolist() for p in net.params], x, 1, 0.1)
    assert f"= {loss:.6f}" in out
    assert "z^1 = a^0 W^1 + b^1" in out and "delta^2 = f'(z^2) ⊙ delta^3 W^3" in out
    assert max(len(line) for line in out.splitlines()) <= 80


@pytest.mark.parametrize("method", ["dropout", "adaptive-dropout", "alsh-approx", "mc-approx"])
def test_every_method_shows_its_choice(method, capsys):
    assert main(["step", "--method", method, "--batch-size", "1"]) == 0
    out = capsys.readouterr().out
    expected = {"dropout": "kept units", "adaptive-dropout": "kept units",
                "alsh-approx": "the true top-", "mc-approx": "column-row pairs"}[method]
    assert expected in out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_sampled_forward_gradient_is_the_numerical_one_of_the_sampled_network():
    net = api.Net(4, 2, hidden=(3, 3), method="dropout", seed=explain_step.SEED, dtype="float64",
                  dropout_keep=0.5, optimizer="sgd", lr=0.1)
    tr = net.step(explain_step.SAMPLE, explain_step.LABEL, trace=True, numeric=True)
    assert 0 < len(tr.sel[0].idx) < 3
    for g, n in zip(tr.grads, tr.numeric):
        np.testing.assert_allclose(g.W, n.W, rtol=1e-6, atol=1e-8)
    assert not np.allclose(tr.grads[0].W, tr.exact[0].W)


def test_mc_forward_mode_shows_the_sampled_forward(capsys):
    argv = ["step", "--method", "mc-approx", "--set", "mc_mode=forward", "--set", "mc_rho_fwd=0.5",
            "--set", "mc_kmin_fwd=1"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "forward z = a W^T, over inputs" in out and "z^1 from the kept pairs" in out


def test_markdown_and_batch(capsys):
    assert main(["step", "--method", "mc-approx", "--batch-size", "3", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# One training step: mc-approx") and "## Backward" in out
    assert "```text" in out


@pytest.mark.parametrize("argv,message", [
    (["step", "--hidden", "3,x"], "--hidden"),
    (["step", "--batch-size", "0"], "--batch-size"),
    (["step", "--set", "dropout_keep=2", "--method", "dropout"], "dropout-keep"),
    (["propagation", "--trained", "/nonexistent/run"], "run folder"),
])
def test_bad_input_is_one_message(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_help(capsys):
    for argv in (["--help"], ["step", "--help"], ["propagation", "--help"]):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 0
    assert "--trained RUN_DIR" in capsys.readouterr().out


@pytest.mark.parametrize("method", ["alsh-approx", "dropout", "mc-approx"])
def test_propagation_runs_and_plots(method, tmp_path, capsys):
    png = tmp_path / "p.png"
    argv = ["propagation", "--method", method, "--hidden", "3x40", "--dataset", "synthetic",
            "--samples", "8", "--plot", str(png)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "thm c=5" in out and png.stat().st_size > 1000
    assert max(len(line) for line in out.splitlines()) <= 80


def test_propagation_output_ratios_are_the_experiments_measurement():
    """The output column is experiments/error_propagation.py:layer_ratios on the same network,
    inputs and measurement stream; an exact method measures 0 everywhere."""
    from npmlp.experiments.error_propagation import layer_ratios
    from npmlp.explain.propagation import measure
    from npmlp.layers import relu_forward
    rng = np.random.default_rng(1)
    X, y = rng.random((6, 20)).astype(np.float32), rng.integers(0, 3, 6)
    net = api.Net(20, 3, hidden=(30, 30), method="dropout", dropout_keep=0.3)
    twin = api.Net(20, 3, hidden=(30, 30), method="dropout", dropout_keep=0.3)
    ratios, grad, kept = measure(net, X, y, seed=4)
    assert ratios == layer_ratios(twin.strategy, twin.params, X, np.random.default_rng([4, 7]),
                                  relu_forward)[0]
    assert ratios[0] == 0 and ratios[1] > 0 and len(grad) == 3
    exact = measure(api.Net(20, 3, hidden=(30, 30)), X, y)
    assert max(exact[0]) == 0 and max(exact[1]) < 1e-6


def test_propagation_of_a_trained_run(tmp_path, capsys):
    run = tmp_path / "run"
    api.train(out=str(run), log=lambda *a: None, dataset="synthetic", hidden="2x32", epochs=1,
              limit=200)
    assert main(["propagation", "--trained", str(run), "--method", "alsh-approx", "--samples", "5",
                 "--plot", str(tmp_path / "p.png")]) == 0
    out = capsys.readouterr().out
    assert "trained weights of" in out and "784-32-32-10" in out
