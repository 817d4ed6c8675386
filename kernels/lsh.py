"""LSH for ALSH-APPROX (Spring & Shrivastava, KDD 2017; EDBT 2025 §5.2): one entry point per step.

The pieces, each a module that opens with its plain-NumPy reference:
    lsh_transforms  P/Q maps that turn max inner product into angle: l2_alsh (EDBT Eq. 2), sign_alsh,
                    simple_lsh, none
    lsh_hash        signed random projections (Gaussian, +-1, sparse +-1): K bits per table, L tables
    lsh_dwta        densified winner-take-all (SLIDE's default family)
    lsh_tables      CSR tables (bucket offsets + unit ids), built by one counting sort per table
    lsh_rebuild     a layer's rebuild (transform, hash, counting sort) in one compiled call
    lsh_select      active-set policies: edbt, topfreq (KDD'17), union, threshold (SLIDE), random

Per hashed layer, with W (D_out, D_in) (one unit per row; the paper's W[:, j]):

    t = make_transform("l2_alsh")                                   # m = 3, U = 0.83
    proj = draw_projection(rng, "srp_rademacher", D_in + t.m, K=6, L=5, dtype=W.dtype)
    codes = np.empty((5, D_out), np.int32); tables = make_tables(5, n_bits(proj), D_out)
    hash_rows(W, t, proj, codes); build_tables(codes, tables)       # build, and on every rebuild:
    rebuild(W, t, proj, codes, tables, *make_rebuild_buffers(W, t, proj))   # the same, one call
    ...
    valid = hash_query(a, t, proj, qcodes)                          # or hash_sparse_query(vals, idx, ...)
    size = select("edbt", tables, qcodes, valid, tau, pool, out, scratch)   # active units: out[:size]

An all-zero query (ReLU can produce one) returns valid=False: "edbt" then selects tau random units,
the other policies an empty set.
"""
import numpy as np

from .lsh_dwta import (DWTAProjection, draw_dwta, dwta_hash_query, dwta_hash_query_cost,
                       dwta_hash_rows, dwta_hash_rows_cost, dwta_hash_sparse_query, redraw_dwta)
from .lsh_hash import (SRP_FAMILIES, SRPProjection, draw_srp, redraw_srp, srp_hash_query,
                       srp_hash_query_cost, srp_hash_rows, srp_hash_rows_cost, srp_hash_sparse_query)
from .lsh_rebuild import make_buffers as make_rebuild_buffers
from .lsh_rebuild import rebuild
from .lsh_select import (SelectScratch, UniformPool, make_select_scratch, make_uniform_pool,
                         select_cost, select_edbt, select_random, select_threshold, select_topfreq,
                         select_union)
from .lsh_tables import Tables, build_tables, build_tables_cost, make_tables
from .lsh_transforms import TRANSFORMS, Transform, make_transform, query_constant

FAMILIES = SRP_FAMILIES + ("dwta",)
POLICIES = ("edbt", "topfreq", "union", "threshold")

__all__ = ["FAMILIES", "POLICIES", "TRANSFORMS", "Transform", "SRPProjection", "DWTAProjection",
           "Tables", "SelectScratch", "UniformPool", "make_transform", "query_constant",
           "draw_projection", "redraw_projection", "n_bits", "hash_rows", "hash_query",
           "hash_sparse_query", "make_tables", "build_tables", "rebuild", "make_rebuild_buffers", "make_select_scratch",
           "make_uniform_pool", "select", "select_random", "hash_rows_cost", "hash_query_cost",
           "build_tables_cost", "select_cost"]


def draw_projection(rng, family, dim, K, L, dtype=np.float32, ratio=3, bin_bits=3):
    """Hash functions of `family` for vectors of length dim = D_in + transform.m."""
    if family == "dwta":
        return draw_dwta(rng, dim, K, L, bin_bits)
    if family in SRP_FAMILIES:
        return draw_srp(rng, family, dim, K, L, dtype, ratio)
    raise ValueError(f"unknown LSH hash family {family!r}; choose one of {', '.join(FAMILIES)}")


def redraw_projection(rng, proj):
    """Fresh hash functions of the same family, written into proj's arrays."""
    (redraw_dwta if isinstance(proj, DWTAProjection) else redraw_srp)(rng, proj)


def n_bits(proj):
    """Bits per table code: 2^n_bits buckets per table."""
    return proj.K * proj.bin_bits if isinstance(proj, DWTAProjection) else proj.K


def hash_rows(W, t, proj, out, ext=None, work=None):
    """Codes (L, D_out) of P(scale * W) into out; returns the global scale. ext (D_out, t.m) and
    work (D_out, K L) are optional preallocated buffers (work is unused by dwta)."""
    if isinstance(proj, DWTAProjection):
        return dwta_hash_rows(W, t, proj, out, ext)
    return srp_hash_rows(W, t, proj, out, ext, work)


def hash_query(q, t, proj, out):
    """Codes (L,) of Q(q) into out; False for an all-zero q."""
    return (dwta_hash_query if isinstance(proj, DWTAProjection) else srp_hash_query)(q, t, proj, out)


def hash_sparse_query(vals, idx, t, proj, out):
    """Codes (L,) of Q(q) where q[idx] = vals (idx unique int32); False for an all-zero q."""
    fn = dwta_hash_sparse_query if isinstance(proj, DWTAProjection) else srp_hash_sparse_query
    return fn(vals, idx, t, proj, out)


def select(policy, tables, qcodes, valid, param, pool, out, scratch):
    """Active set into out[:size]; param is tau (edbt), n_keep (topfreq), theta (threshold)."""
    if policy == "edbt":
        return select_edbt(tables, qcodes, valid, param, pool, out, scratch)
    if policy == "topfreq":
        return select_topfreq(tables, qcodes, valid, param, out, scratch)
    if policy == "union":
        return select_union(tables, qcodes, valid, out, scratch)
    if policy == "threshold":
        return select_threshold(tables, qcodes, valid, param, out, scratch)
    raise ValueError(f"unknown LSH selection policy {policy!r}; choose one of {', '.join(POLICIES)}")


def hash_rows_cost(proj, n, d, n_extra, itemsize):
    """Cost of hash_rows on an (n, d) W (transform included)."""
    if isinstance(proj, DWTAProjection):
        H, B = proj.bins.shape
        return dwta_hash_rows_cost(n, d, n_extra, H, B, proj.L, itemsize)
    return srp_hash_rows_cost(n, d, n_extra, proj.K, proj.L, itemsize)


def hash_query_cost(proj, d, n_extra, itemsize, nnz=None):
    """Cost of hash_query (nnz None) or hash_sparse_query with nnz non-zeros."""
    if isinstance(proj, DWTAProjection):
        H, B = proj.bins.shape
        return dwta_hash_query_cost(d, n_extra, H, B, proj.slots.shape[0], proj.L, itemsize, nnz)
    return srp_hash_query_cost(d, n_extra, proj.K, proj.L, itemsize, nnz)
