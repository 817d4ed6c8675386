"""The loss: log-softmax followed by negative log-likelihood, fused (EDBT §8.4).

Always exact, whatever the method: every strategy approximates products inside the layers only.

Shape legend: N batch, C classes; logits (N, C), y (N,) int64 labels.
"""
import numpy as np


def log_softmax(logits):
    """Numerically stable log-softmax over classes: subtract the row max before exp."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def log_softmax_nll(logits, y):
    """Mean NLL of the log-softmax, and its gradient w.r.t. the logits.

    L = -(1/N) sum_n log softmax(z_n)[y_n];   dL/dz_n = (softmax(z_n) - onehot(y_n)) / N
    """
    n = logits.shape[0]
    logp = log_softmax(logits)                         # (N, C)
    loss = -logp[np.arange(n), y].mean()
    dlogits = np.exp(logp)                             # softmax, (N, C)
    dlogits[np.arange(n), y] -= 1.0
    dlogits /= n
    return float(loss), dlogits
