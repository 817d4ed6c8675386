"""ALSH-APPROX's batch-N selection in one call: hash every sample's query and select its active set.

At batch N the per-sample loop of lsh.hash_query / hash_sparse_query and lsh.select costs ~10 Python
and dispatch round trips per sample and layer (60 per step at batch 20 on 3 hidden layers), more
than the hashing itself. This kernel runs the same loop inside one compiled call for the default
configuration (a signed-random-projection family, the EDBT selection policy):

    for each sample n:  codes = h_t(Q(a_n)), t = 1..L        (EDBT Eq. 2-4; lsh_hash._srp_query_*)
                        S_n = edbt(buckets of codes, tau)     (lsh_select._select_edbt)
                        mask[n, S_n] = 1

with the same helpers, in the same order and drawing the same uniforms from the pool, so the mask
equals the per-sample loop's bit for bit. When the pool runs low before a sample, the kernel
returns that sample's index; the caller refills the pool (as lsh.select_edbt does) and resumes.

Shape legend: a (N, D_in) dense queries (layer 1) or CSR xptr (N + 1,), xi (Q,), xv (Q,) for the
sparse ones; planes (KL, dim), planes_by_coord (dim, KL); offsets (L, 2^K + 1), ids (L, D_out)
int32; mask (N, D_out) written at the selected units (the caller zeroes it); sizes (N,) int64.
Costs: the per-sample ones of kernels/lsh.py (hash_query_cost + select_cost), which the caller
sums from `sizes` and the queries' non-zeros.
"""
import numpy as np

from ._jit import jit, register_warmup
from .lsh_hash import _srp_query_dense, _srp_query_sparse
from .lsh_select import _select_edbt


# ---------------------------------------------------------------------------------------------
# Plain-NumPy reference: the per-sample loop through the public lsh entry points.
# ---------------------------------------------------------------------------------------------

def alsh_edbt_mask_reference(a, xptr, xi, xv, t, proj, tables, tau, pool, scratch, mask, sizes):
    from . import lsh
    out = np.empty(tables.ids.shape[1], np.int32)
    qcodes = np.empty(proj.L, np.int32)
    for n in range(mask.shape[0]):
        if xptr is None:
            valid = lsh.hash_query(a[n], t, proj, qcodes)
        else:
            s = slice(xptr[n], xptr[n + 1])
            valid = lsh.hash_sparse_query(xv[s], xi[s].astype(np.int32), t, proj, qcodes)
        sizes[n] = lsh.select("edbt", tables, qcodes, valid, tau, pool, out, scratch)
        mask[n, out[:sizes[n]]] = 1


# ---------------------------------------------------------------------------------------------
# Kernel
# ---------------------------------------------------------------------------------------------

@jit
def alsh_edbt_mask(a, xptr, xi, xv, sparse, c, n_extra, planes, planes_by_coord, K, L, offsets,
                   ids, tau, u, cursor, out, mark, buf, qcodes, mask, sizes, start):
    """Samples start..N-1; returns N when done, or the sample at which the pool ran low."""
    one = mask.dtype.type(1)
    for n in range(start, mask.shape[0]):
        if sparse:
            q0, q1 = xptr[n], xptr[n + 1]
            valid = _srp_query_sparse(xv[q0:q1], xi[q0:q1], c, n_extra, planes_by_coord, K, L, qcodes)
        else:
            valid = _srp_query_dense(a[n], c, planes, K, L, qcodes)
        size = _select_edbt(offsets, ids, qcodes, valid, tau, u, cursor, out, mark, buf)
        if size < 0:
            return n
        sizes[n] = size
        row = mask[n]
        for k in range(size):
            row[out[k]] = one
    return mask.shape[0]


REFERENCES = {alsh_edbt_mask: alsh_edbt_mask_reference}


@register_warmup
def warmup_active_batch_lsh():
    """Compile for float32 and float64 queries, dense and sparse."""
    L, K, D_out, D_in = 2, 2, 5, 4
    offsets = np.zeros((L, (1 << K) + 1), np.int32)
    offsets[:, 1:] = D_out
    ids = np.tile(np.arange(D_out, dtype=np.int32), (L, 1))
    u, cursor = np.random.default_rng(0).random(64), np.zeros(1, np.int64)
    out, mark, buf = (np.zeros(D_out, np.int32) for _ in range(3))
    for dtype in (np.float32, np.float64):
        a = np.ones((2, D_in), dtype)
        xptr = np.array([0, 1, 2], np.int64)
        xi = np.array([0, 3], np.int64)
        planes = np.ones((K * L, D_in + 1), dtype)
        mask = np.zeros((2, D_out), dtype)
        sizes = np.zeros(2, np.int64)
        for sparse in (False, True):
            cursor[0] = 0
            alsh_edbt_mask(a, xptr, xi, a[0, :2].copy(), sparse, 0.5, 1, planes,
                           np.ascontiguousarray(planes.T), K, L, offsets, ids, 1, u, cursor, out,
                           mark, buf, np.zeros(L, np.int32), mask, sizes, 0)
