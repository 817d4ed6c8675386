"""The loss of one sample inside the compiled batch-1 steps (kernels/fused_step.py, fused_topk.py):
log-softmax + NLL and its gradient, summing in NumPy's order so that float64 losses are bit-identical
to the readable path's (npmlp/losses.py:log_softmax_nll).

Shape legend: z (C,) logits of one sample, y its label; work and dz (C,) caller-allocated.
"""
import numpy as np

from ._jit import jit, register_warmup

# ------------------------------------------------------------------ plain-NumPy reference


def log_softmax_nll_1_reference(z, y):
    """(loss, dL/dz) for one sample: -log softmax(z)[y], softmax(z) - onehot(y) (EDBT §8.4)."""
    s = z - z.max()
    logp = s - np.log(np.exp(s).sum())
    dz = np.exp(logp)
    dz[y] -= 1
    return -logp[y], dz


# ------------------------------------------------------------------ kernels

@jit(reassoc=False)   # the loss must sum in NumPy's order: the same bits
def numpy_sum(a):
    """a.sum() as NumPy reduces a contiguous row (len(a) <= 128, one block): below 8 elements a
    plain loop; else 8 accumulators, a tree, then the tail. Same order, same rounding (tested)."""
    n = a.shape[0]
    if n < 8:
        res = a.dtype.type(0)
        for i in range(n):
            res += a[i]
        return res
    r0, r1, r2, r3, r4, r5, r6, r7 = a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]
    i = 8
    while i < n - (n % 8):
        r0 += a[i]
        r1 += a[i + 1]
        r2 += a[i + 2]
        r3 += a[i + 3]
        r4 += a[i + 4]
        r5 += a[i + 5]
        r6 += a[i + 6]
        r7 += a[i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[i]
        i += 1
    return res


@jit(reassoc=False)   # the loss must sum in NumPy's order: the same bits
def log_softmax_nll_1(z, y, work, dz):
    """losses.log_softmax_nll for one sample: returns the loss, writes dL/dz into dz (C,)."""
    C = z.shape[0]
    mx = z[0]
    for c in range(1, C):
        if z[c] > mx or np.isnan(z[c]):
            mx = z[c]
    for c in range(C):
        work[c] = np.exp(z[c] - mx)
    lse = np.log(numpy_sum(work[:C]))
    for c in range(C):
        dz[c] = (z[c] - mx) - lse                        # log p_c
    loss = -dz[y]
    for c in range(C):
        dz[c] = np.exp(dz[c])                            # softmax
    dz[y] -= dz.dtype.type(1)
    return loss


@register_warmup
def warmup():
    """Compile the one-sample loss for float32 and float64."""
    for dtype in (np.float32, np.float64):
        z = np.zeros(3, dtype)
        log_softmax_nll_1(z, 0, np.empty(3, dtype), np.empty(3, dtype))
