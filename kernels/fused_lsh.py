"""ALSH-APPROX's active set inside the fused batch-1 step (kernels/fused_step.py): hash, select, sort.

For hidden layer l the step hashes the query Q(a^{l-1}) (EDBT Eq. 2) into the layer's L tables and
selects the active units from the buckets it lands in (Eq. 3-4, MIPS by collision), exactly as
strategies/alsh.py's `choose` does on the reference path, with the same kernels:

    hash     signed random projections (lsh_hash) or DWTA (lsh_dwta); layer 0's input is dense, the
             others' are the previous layer's non-zeros (sparse query)
    select   edbt (union with early stop, per-bucket cap, random fill from the strategy's uniform
             pool), topfreq (KDD'17), union, threshold (SLIDE): kernels/lsh_select.py
    sort     the ids in ascending order, by one pass over a flag per unit (np.sort allocates)

Only edbt draws random numbers. Its pool is refilled where lsh_select.select_edbt would refill it,
from the block the runner drew ahead from the pool's generator (pool_next[0] = 1 marks it used).

Shape legend: D_out units of the layer, D_in inputs; L tables of K hashes; dim = D_in + m.
"""
from typing import Any, NamedTuple

import numpy as np
from numba import typed

from . import lsh_dwta as LD
from . import lsh_hash as LH
from . import lsh_select as LS
from ._jit import jit, register_warmup
from .lsh_tables import build_tables, make_tables
from .lsh_transforms import make_transform, query_constant

POLICIES = {"edbt": 0, "topfreq": 1, "union": 2, "threshold": 3}
EDBT, TOPFREQ, UNION, THRESHOLD = 0, 1, 2, 3


# ------------------------------------------------------------------ plain-NumPy reference

def select_alsh_reference(x, t, proj, tables, policy, param, pool, scratch):
    """The sorted active units (int64) of a layer for its input x (D_in,): the reference
    implementations of the query hash and the policy (plain NumPy and Python), then a sort."""
    from .lsh_dwta import DWTAProjection, dwta_hash_query_reference
    from .lsh_hash import srp_hash_query_reference
    qcodes, out = np.empty(proj.L, np.int32), np.empty(tables.ids.shape[1], np.int32)
    hash_query = (dwta_hash_query_reference if isinstance(proj, DWTAProjection)
                  else srp_hash_query_reference)
    valid = hash_query(x, t, proj, qcodes)                    # Q(x) (Eq. 2), hashed into L codes
    if policy == "edbt":
        size = LS.select_edbt_reference(tables, qcodes, valid, param, pool, out, scratch)
    elif policy == "topfreq":
        size = LS.select_topfreq_reference(tables, qcodes, valid, param, out, scratch)
    else:
        theta = 0 if policy == "union" else param
        size = LS.select_threshold_reference(tables, qcodes, valid, theta, out, scratch)
    return np.sort(out[:size]).astype(np.int64)


# ------------------------------------------------------------------ arguments

class LshArgs(NamedTuple):
    """ALSH-APPROX's per-hidden-layer arrays (strategies/alsh.py's _LayerIndex) as typed lists."""
    planes: Any        # (K L, dim) hash planes (srp; placeholder for dwta)
    pbc: Any           # (dim, K L) the same, by coordinate (sparse queries)
    bins: Any          # (K L, 2^bin_bits) int32 (dwta; placeholder for srp)
    slots: Any         # (n_perm, dim) int32 (dwta)
    univ: Any          # (3,) int64 densification hash (dwta)
    offsets: Any       # (L, 2^n_bits + 1) int32 bucket offsets
    ids: Any           # (L, D_out) int32 unit ids by bucket
    qcodes: Any        # (L,) int32 query codes (scratch)
    out: Any           # (D_out,) int32 selected ids (scratch)
    mark: Any          # (D_out,) int32, zero between calls
    buf: Any           # (D_out,) int32
    hist: Any          # (L + 2,) int32 (topfreq)
    flag: Any          # (D_out,) uint8, zero between calls (the sort)
    c: float           # Q's appended coordinate value
    m: int             # coordinates appended by the transform
    K: int             # hashes per table
    ntab: int          # L, tables per layer
    bin_bits: int      # dwta: 2^bin_bits slots per bin (0 for srp)
    dwta: bool         # hash family: DWTA, else signed random projections
    policy: int        # EDBT, TOPFREQ, UNION or THRESHOLD
    param: Any         # (hidden layers,) int64: tau (edbt), n_keep (topfreq), theta (threshold)


def lsh_args(index, policy, param, dtype):
    """LshArgs of a strategy's layer indexes (strategies/alsh.py _LayerIndex: t, proj, tables,
    qcodes, out, scratch); an empty `index` gives placeholders (the kernel then never reads them)."""
    z2, i2 = np.zeros((1, 1), dtype), np.zeros((1, 1), np.int32)
    rows = []
    for ix in index:
        p, dwta = ix.proj, isinstance(ix.proj, LD.DWTAProjection)
        rows.append((z2 if dwta else p.planes, z2 if dwta else p.planes_by_coord,
                     p.bins if dwta else i2, p.slots if dwta else i2,
                     p.univ if dwta else np.zeros(3, np.int64), ix.tables.offsets, ix.tables.ids,
                     ix.qcodes, ix.out, ix.scratch.mark, ix.scratch.buf, ix.scratch.hist,
                     np.zeros(ix.tables.ids.shape[1], np.uint8)))
    if not rows:
        z1 = np.zeros(1, np.int32)
        rows = [(z2, z2, i2, i2, np.zeros(3, np.int64), i2, i2, z1, z1, z1, z1, z1,
                 np.zeros(1, np.uint8))]
    ix = index[0] if index else None
    return LshArgs(*(typed.List(col) for col in zip(*rows)),
                   float(query_constant(ix.t)) if ix else 0.0, int(ix.t.m) if ix else 0,
                   int(ix.proj.K) if ix else 1, int(ix.proj.L) if ix else 1,
                   int(getattr(ix.proj, "bin_bits", 0)) if ix else 0,
                   bool(ix and isinstance(ix.proj, LD.DWTAProjection)), int(POLICIES[policy]),
                   np.asarray(param, np.int64))


def no_lsh(dtype):
    """Placeholder LshArgs for the methods that hash nothing."""
    return lsh_args([], "edbt", [0], dtype)


def pool_need(policy, ntab, param):
    """Uniforms a step may take from the pool: edbt's capped buckets and fill per layer; 0 else."""
    return sum((ntab + 5) * tau for tau in param) if policy == "edbt" else 0


# ------------------------------------------------------------------ kernel

@jit
def select_alsh(l, x, xv, xi32, J, lsh, pool_u, cursor, pool_next, idx):
    """The active units of hidden layer l, sorted, into idx; returns their number. x is the dense
    input (layer 0), xv[:J] / xi32[:J] the non-zero inputs and their ids (layers > 0)."""
    qcodes, c, m, K, L = lsh.qcodes[l], lsh.c, lsh.m, lsh.K, lsh.ntab
    if lsh.dwta:
        q2 = qcodes.reshape((L, 1))
        if l == 0:
            valid = LD._dwta_query_dense(x, c, m, lsh.bins[l], lsh.univ[l], K, L, lsh.bin_bits, q2)
        else:
            valid = LD._dwta_query_sparse(xv[:J], xi32[:J], c, m, lsh.slots[l], lsh.univ[l], K, L,
                                          lsh.bin_bits, q2)
    elif l == 0:
        valid = LH._srp_query_dense(x, c, lsh.planes[l], K, L, qcodes)
    else:
        valid = LH._srp_query_sparse(xv[:J], xi32[:J], c, m, lsh.pbc[l], K, L, qcodes)
    offsets, ids, out, mark, buf = lsh.offsets[l], lsh.ids[l], lsh.out[l], lsh.mark[l], lsh.buf[l]
    param = lsh.param[l]
    if lsh.policy == EDBT:
        if len(pool_u) - cursor[0] < (L + 5) * param:
            # the refill lsh_select.select_edbt makes here, from the block drawn ahead
            pool_u[:] = pool_next[1:]
            cursor[0] = 0
            pool_next[0] = 1
        size = LS._select_edbt(offsets, ids, qcodes, valid, param, pool_u, cursor, out, mark, buf)
    elif lsh.policy == TOPFREQ:
        size = LS._select_topfreq(offsets, ids, qcodes, valid, param, out, mark, buf, lsh.hist[l])
    else:
        theta = 0 if lsh.policy == UNION else param
        size = LS._select_threshold(offsets, ids, qcodes, valid, theta, out, mark, buf)
    flag = lsh.flag[l]
    for k in range(size):
        flag[out[k]] = 1
    n = 0
    for j in range(ids.shape[1]):
        if flag[j]:
            flag[j] = 0
            idx[n] = j
            n += 1
    return n


@register_warmup
def warmup_fused_lsh():
    """Compile select_alsh for both dtypes, both families (the policy is a run-time value)."""
    from types import SimpleNamespace as NS
    rng = np.random.default_rng(0)
    t = make_transform("l2_alsh")
    for dtype in (np.float32, np.float64):
        x = rng.random(4).astype(dtype)
        for proj, bits in ((LH.draw_srp(rng, "srp_rademacher", 4 + t.m, 2, 2, dtype), 2),
                           (LD.draw_dwta(rng, 4 + t.m, 2, 2, bin_bits=2), 4)):
            tables = make_tables(2, bits, 3)
            build_tables(np.zeros((2, 3), np.int32), tables)
            ix = NS(t=t, proj=proj, tables=tables, qcodes=np.zeros(2, np.int32),
                    out=np.zeros(3, np.int32), scratch=LS.make_select_scratch(3, 2))
            select_alsh(0, x, x, np.arange(4, dtype=np.int32), 4, lsh_args([ix], "edbt", [1], dtype),
                        rng.random(64), np.zeros(1, np.int64), np.zeros(65), np.zeros(3, np.int64))
