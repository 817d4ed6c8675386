"""The reference training step in plain NumPy: what one step of exact training computes, written out.

This is the anchor for everything else: the engine's step (strategies/base.py, optim.py and the fused
kernels in kernels/update.py) must equal it for every optimiser (tests/test_reference.py), the traced
step (`python -m npmlp.explain step`, npmlp/api.py) prints its quantities, and docs/tutorial.md builds
it up line by line. It is written like Nielsen's `network.py` `backprop`: lists of z's and a's, one
loop forward, one loop backward, the equation beside each line. Nothing here is fast, sampled or
fused: the weight gradient is formed in full, the optimiser visits every weight.

Shape legend (as in npmlp/layers.py)
    N batch, D_0 input width, D_l width of layer l, C = D_L classes
    x (N, D_0) float, y (N,) int labels
    W[l] (D_l, D_{l-1})  our storage: the paper's W^l transposed (it writes z = a W), so z = a W^T
    b[l] (D_l,);  z[l], a[l], delta[l] (N, D_l)
Layers are numbered from 0 here (lists); the paper's superscript k is l + 1.
"""
import numpy as np


# ------------------------------------------------------------------ activations and the loss

def activation(name, slope=0.01):
    """(f, f') of a hidden activation; f' takes z. The engine's: layers.py:*_forward, *_backward.
    A (f, f') pair is returned as it is."""
    if not isinstance(name, str):
        return name
    if name == "relu":
        return (lambda z: np.maximum(z, 0)), (lambda z: (z > 0).astype(z.dtype))
    if name == "leaky_relu":
        return (lambda z: np.where(z > 0, z, slope * z)), (lambda z: np.where(z > 0, 1.0, slope))
    if name == "sigmoid":
        def sig(z):
            return 1.0 / (1.0 + np.exp(-z))
        return sig, (lambda z: sig(z) * (1 - sig(z)))
    if name == "tanh":
        return np.tanh, (lambda z: 1 - np.tanh(z) ** 2)
    raise ValueError(f"unknown activation {name!r}")


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))      # shift by the row max: exp never overflows
    return e / e.sum(axis=1, keepdims=True)


def nll(z, y):
    """L = -(1/N) sum_n log softmax(z_n)[y_n]  (EDBT §8.4; engine: losses.py:log_softmax_nll)."""
    return float(-np.log(softmax(z)[np.arange(len(y)), y]).mean())


# ------------------------------------------------------------------ forward and backward

def forward(Ws, bs, x, act="relu"):
    """EDBT §4 feedforward. Returns (zs, activations): zs[l] = z of layer l, activations[0] = x and
    activations[l + 1] = a of layer l (the last is the logits, z of the output layer: no f there)."""
    f, _ = activation(act)
    a = x
    zs, activations = [], [x]
    for l, (W, b) in enumerate(zip(Ws, bs)):
        z = a @ W.T + b                                 # z^k = a^{k-1} W^k + b^k      (EDBT §4)
        a = z if l == len(Ws) - 1 else f(z)             # a^k = f(z^k); the output layer keeps z
        zs.append(z)
        activations.append(a)
    return zs, activations


def backprop(Ws, bs, x, y, act="relu"):
    """One forward and backward pass. Returns (loss, dWs, dbs, deltas, zs, activations), where
    deltas[l] = dL/dz of layer l and dWs[l], dbs[l] are the full gradients of the mean loss."""
    _, fprime = activation(act)
    zs, activations = forward(Ws, bs, x, act)
    n = x.shape[0]
    L = len(Ws)
    onehot = np.eye(zs[-1].shape[1])[y]
    dWs, dbs, deltas = [None] * L, [None] * L, [None] * L
    delta = (softmax(zs[-1]) - onehot) / n                # dL/dz^L of log-softmax + NLL (mean)
    for l in reversed(range(L)):
        if l < L - 1:
            delta = fprime(zs[l]) * (delta @ Ws[l + 1])   # Eq. 1: delta^k = f'(z^k) ⊙ W delta^{k+1}
        deltas[l] = delta
        dWs[l] = delta.T @ activations[l]                 # Eq. 1: ∇W^k = a^{k-1} delta^k (sum over n)
        dbs[l] = delta.sum(axis=0)                        # Eq. 1: ∇b^k = delta^k         (sum over n)
    return nll(zs[-1], y), dWs, dbs, deltas, zs, activations


# ------------------------------------------------------------------ the optimisers' arithmetic

def init_state(optimizer, arrays):
    """Zero optimiser state for each parameter array (W's and b's in any order)."""
    names = {"sgd": ("vel",), "adam": ("m", "v"), "adagrad": ("h",)}[optimizer]
    return [{"t": 0, **{k: np.zeros_like(p) for k in names}} for p in arrays]


def update(optimizer, p, g, st, lr, momentum=0.0, beta1=0.9, beta2=0.999, eps=1e-8):
    """One optimiser step on one parameter array p (in place), gradient g, state st.

    The same arithmetic as kernels/update.py (sgd_ref, adam_ref, adagrad_ref), on the whole array:
    exact training gives every row a gradient, so the row-sparse and lazy forms coincide with it."""
    st["t"] += 1
    if optimizer == "sgd":
        if momentum > 0:
            st["vel"] = momentum * st["vel"] + g          # v <- mu v + g
            g = st["vel"]
        p -= lr * g                                       # W <- W - lr g
    elif optimizer == "adam":                            # PyTorch's arithmetic
        t = st["t"]
        st["m"] = beta1 * st["m"] + (1 - beta1) * g      # m <- b1 m + (1 - b1) g
        st["v"] = beta2 * st["v"] + (1 - beta2) * g * g  # v <- b2 v + (1 - b2) g^2
        step = lr / (1 - beta1 ** t)                      # bias corrections of m and v:
        corr = 1 / np.sqrt(1 - beta2 ** t)
        p -= step * st["m"] / (np.sqrt(st["v"]) * corr + eps)   # W -= lr m_hat / (sqrt(v_hat) + eps)
    elif optimizer == "adagrad":
        st["h"] = st["h"] + g * g                         # h <- h + g^2
        p -= lr * g / (np.sqrt(st["h"]) + eps)            # W <- W - lr g / (sqrt(h) + eps)
    else:
        raise ValueError(f"unknown optimizer {optimizer!r}")


def step(Ws, bs, x, y, state, optimizer="sgd", lr=1e-3, act="relu", **hyper):
    """One training step of exact training: backprop, then the optimiser on every W and b (in place).

    state: init_state(optimizer, Ws + bs) before the first step, then passed back each step.
    hyper: momentum, beta1, beta2, eps as in npmlp/config.py. Returns the loss before the step."""
    loss, dWs, dbs, *_ = backprop(Ws, bs, x, y, act)
    for p, g, st in zip(list(Ws) + list(bs), dWs + dbs, state):
        update(optimizer, p, g, st, lr, **hyper)
    return loss


# ------------------------------------------------------------------ checking a gradient

def numerical_gradient(loss, p, h=1e-6):
    """dL/dp by central differences, (L(p + h e_i) - L(p - h e_i)) / 2h for every entry i of p.
    `loss()` reads p, which is changed in place and restored. Use float64."""
    grad = np.zeros(p.shape)
    for i in np.ndindex(p.shape):
        old = p[i]
        p[i] = old + h
        up = loss()
        p[i] = old - h
        down = loss()
        p[i] = old
        grad[i] = (up - down) / (2 * h)
    return grad
