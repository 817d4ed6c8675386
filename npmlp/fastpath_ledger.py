"""What the reference path would have recorded in the ledger for n fused steps (npmlp/fastpath.py).

A compiled chunk counts, per layer and summed over its steps, the kept units K, the non-zero inputs
J, K*J and the rows its optimiser visited (kernels/fused_step.py: counts[l, :]). The ledger entries
are the reference's own cost functions of (K, J): every one is bilinear in (K, J), so their sum over
the steps is a ΣKJ + b ΣK + c ΣJ + d n, with a, b, c, d read off the cost function itself
(`bilinear_sum`). tests/test_fastpath*.py check the entries equal the reference run's.
"""
import numpy as np

from kernels import active_backward as KB
from kernels import active_forward as KF
from kernels import fused_adaptive as KFA
from kernels import fused_step as KS
from kernels import fused_topk as KFT
from kernels import lsh
from kernels import topk as KT
from kernels import topk_update as KTU
from kernels import update as KU
from kernels.cost import Cost, matmul_cost


def bilinear_sum(cost, n, sum_k, sum_j, sum_kj):
    """Sum over n steps of cost(K, J) (a Cost bilinear in K and J) from the sums of K, J and K*J."""
    d = np.array(cost(0, 0), dtype=object)
    b = np.array(cost(1, 0), dtype=object) - d
    c = np.array(cost(0, 1), dtype=object) - d
    a = np.array(cost(1, 1), dtype=object) - d - b - c
    return [int(v) for v in a * sum_kj + b * sum_k + c * sum_j + d * n]


def account(run, ts, n):
    """Record n fused steps of `run` (a fastpath.Runner) in ts.ledger as the reference would."""
    if run.method == KFT.TOPK:
        return account_topk(run, ts, n)
    ledger, strategy = ts.ledger, ts.strategy
    ledger.samples += n
    isz = run.dtype.itemsize
    n_state = type(ts.optimizer).n_state if run.opt != KS.SGD else \
        (1 if run.cfg.momentum > 0 else 0)
    fused_sgd = run.method == KS.STANDARD and run.opt == KS.SGD and run.cfg.momentum == 0
    for l, p in enumerate(ts.params):
        d_out, d_in = p.W.shape
        sk, sj, skj, visits = (int(v) for v in run.counts[l])
        out_layer = l == run.L - 1

        def add(phase, cost):
            ledger.add(l, phase, *bilinear_sum(cost, n, sk, sj, skj))
        if run.method == KS.STANDARD:
            add("forward", lambda K, J: matmul_cost(1, d_in, d_out, isz))
        elif run.method == KFA.ADAPTIVE and not out_layer:    # every unit's z, then the keep
            add("forward", lambda K, J: KF.active_forward_1_cost(d_out, d_in, isz) if l == 0
                else KF.sparse_forward_1_cost(d_out, J, isz))
            ledger.add(l, "overhead", 0, n * d_out * 8, n * d_out * 8)
        elif l == 0:
            add("forward", lambda K, J: KF.active_forward_1_cost(K, d_in, isz))
        else:
            add("forward", lambda K, J: KF.sparse_forward_1_cost(K, J, isz))
        if run.method == KS.DROPOUT and not out_layer:
            ledger.add(l, "overhead", 0, n * d_out * 8, sk * 8)
        if run.method == KS.ALSH and not out_layer:
            ix = strategy.index[l]
            add("overhead", lambda K, J: lsh.hash_query_cost(
                ix.proj, d_in, ix.t.m, isz, nnz=None if l == 0 else J)
                + lsh.select_cost(d_out, ix.proj.L, ix.n_bits, K))
        if run.method != KS.STANDARD and not out_layer:
            strategy.kept[l] += sk
        if fused_sgd and l > 0:
            c = KU.sgd_backward_fused_cost(d_out, d_in, isz)
            ledger.add(l, "backward-input", n * d_out * d_in, n * c.bytes_read, 0)
            ledger.add(l, "backward-weight", n * d_out * d_in, 0, 0)
            ledger.add(l, "update", n * d_out * d_in, 0, n * c.bytes_written)
            continue
        if l > 0:
            if run.method == KS.STANDARD and run.opt == KS.ADAM:
                # kernels/update.py:adam_backward_fused: W is read by the update's pass
                add("backward-input", lambda K, J: Cost(d_out * d_in, d_out * isz, d_in * isz))
            elif run.method == KS.STANDARD:
                add("backward-input", lambda K, J: matmul_cost(1, d_out, d_in, isz))
            else:
                add("backward-input", lambda K, J: KB.sparse_backward_input_1_cost(K, J, isz))
        ledger.add(l, "backward-weight", sk * d_in, 0, 0)
        c = KU.update_cost(visits, sk, d_in, 1, isz, n_state, True)
        c0 = KU.update_cost(0, 0, d_in, 1, isz, n_state, True)   # per-step constant part
        ledger.add(l, "update", visits * d_in, c.bytes_read + (n - 1) * c0.bytes_read,
                   c.bytes_written + (n - 1) * c0.bytes_written)
    if run.method != KS.STANDARD:
        strategy.seen += n

def account_topk(run, ts, n):
    """TOPK's entries as strategies/topk.py and optim_block.update_block record them per step
    (k is fixed per layer, J varies: the same bilinear sums)."""
    ledger, strategy = ts.ledger, ts.strategy
    ledger.samples += n
    isz, n_state = run.dtype.itemsize, ts.optimizer.n_state
    for l, p in enumerate(ts.params):
        d_out = p.W.shape[0]
        sk, sj, skj = (int(v) for v in run.counts[l, :3])

        def add(phase, cost):
            ledger.add(l, phase, *bilinear_sum(cost, n, sk, sj, skj))
        add("forward", lambda K, J: KT.score_cost(J, d_out, isz))           # z = x_J WT[J] + b
        if l < run.L - 1:
            k = int(run.ks[l])
            add("overhead", lambda K, J: KT.select_cost(d_out, k, isz))
            strategy.kept[l] += sk
        if l > 0:                                                          # dx_J = WT[J, S] dz
            add("backward-input", lambda K, J: KT.block_backward_input_cost(J, K, isz))
        add("backward-weight", lambda K, J: Cost(J * K, 0, 0))
        add("update", lambda K, J: Cost((J + 1) * K, *KTU.block_update_cost(
            J + 1, K, 1, isz, n_state)[1:]))
    strategy.seen += n
