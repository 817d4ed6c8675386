"""A table rebuild of ALSH-APPROX in one compiled call per layer: transform, hash, counting sort.

A rebuild (strategies/alsh.py, on the EDBT schedule: ~146 per epoch, every hidden layer) rehashes
every weight row after the transform P (EDBT Eq. 2) and rebuilds the layer's L tables. It used to be
four calls from Python with two temporaries per call (lsh_transforms.rows_extension,
lsh_hash.srp_hash_rows' BLAS product and sign packing, lsh_tables.build_tables). Here it is:

    srp    Z = W @ planes_by_coord[:d]        the projections, (n, d) @ (d, K L): the one BLAS call
           _finish_srp(...)                   P's extra coordinates (rows_extension), the signs
                                              (_srp_pack_rows), the counting sort (_counting_sort)
    dwta   _finish_dwta(...)                  rows_extension, the WTA codes (_dwta_rows), the sort

into caller-allocated `ext` (n, e) and `work` (n, K L), so a rebuild allocates nothing. The compiled
parts call the very kernels the separate calls ran, on the same numbers in the same order, and the
product stays the same BLAS call on the same arrays: the codes and tables are bit for bit those of
the separate calls (tests/test_kernels_lsh_rebuild.py), so every published ALSH run is unchanged.

What a rebuild costs (bench/README.md, issue-11 ALSH section): ~80% is the BLAS product (30 M
multiply-adds per 1000 x 1000 layer, ~1.2 ms quiet). It stays a full product: its rounding decides
the sign bits near zero, a product over a subset of rows is not guaranteed to round alike in BLAS,
and 70-98% of a layer's rows change between two rebuilds 100 samples apart anyway (measured).

Shape legend: W (n, d) weight rows (one unit per row); e = transform extras; dim = d + e;
codes (L, n) int32; tables: offsets (L, 2^n_bits + 1), ids (L, n) int32.
"""
import numpy as np

from ._jit import jit, register_warmup
from .lsh_dwta import DWTAProjection, _dwta_rows, draw_dwta, dwta_hash_rows_reference
from .lsh_hash import _srp_pack_rows, draw_srp, srp_hash_rows_reference
from .lsh_tables import _counting_sort, build_tables_reference, make_tables
from .lsh_transforms import _rows_extension, make_transform


# ---------------------------------------------------------------------------------------------
# NumPy reference: P(W) explicitly, project (or WTA), pack, then dict-of-lists tables
# ---------------------------------------------------------------------------------------------

def rebuild_reference(W, t, proj, codes, tables):
    """Rehash every row of W into codes (L, n) and rebuild tables from them; returns the scale."""
    if isinstance(proj, DWTAProjection):
        scale = dwta_hash_rows_reference(W, t, proj, codes)
    else:
        scale = srp_hash_rows_reference(W, t, proj, codes)
    build_tables_reference(codes, tables)
    return scale


# ---------------------------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------------------------

@jit
def _finish_srp(W, Z, kind, U, shrink_only, ext, planes_by_coord, K, L, codes, offsets, ids):
    # Z = W @ planes_by_coord[:d] (BLAS, by the caller); P(w_j) = [scale * w_j, ext[j]] (Eq. 2)
    scale = _rows_extension(W, kind, U, shrink_only, ext)
    _srp_pack_rows(Z, scale, ext, planes_by_coord, K, L, codes)
    _counting_sort(codes, offsets, ids)
    return scale


@jit
def _finish_dwta(W, kind, U, shrink_only, ext, bins, univ, K, L, bin_bits, codes, offsets, ids):
    scale = _rows_extension(W, kind, U, shrink_only, ext)
    _dwta_rows(W, scale, ext, bins, univ, K, L, bin_bits, codes)
    _counting_sort(codes, offsets, ids)
    return scale


def make_buffers(W, t, proj):
    """(ext, work): the rebuild's scratch for a layer of W's shape (work is unused by dwta)."""
    n = W.shape[0]
    kl = 1 if isinstance(proj, DWTAProjection) else proj.K * proj.L
    return np.empty((n, t.m), W.dtype), np.empty((n, kl), W.dtype)


def rebuild(W, t, proj, codes, tables, ext, work):
    """Rehash every row of W (transform t, hash functions proj) into codes and rebuild tables, in
    place; ext and work from make_buffers. Returns the global scale of the transform."""
    if codes.shape != tables.ids.shape or ext.shape != (W.shape[0], t.m):
        raise ValueError(f"codes {codes.shape}, tables {tables.ids.shape} and ext {ext.shape} do not "
                         f"fit W {W.shape} with {t.m} extra coordinates")
    if isinstance(proj, DWTAProjection):
        return _finish_dwta(W, t.kind, t.U, t.shrink_only, ext, proj.bins, proj.univ, proj.K, proj.L,
                            proj.bin_bits, codes, tables.offsets, tables.ids)
    d = W.shape[1]
    np.matmul(W, proj.planes_by_coord[:d], out=work)             # (n, d) @ (d, KL) -> (n, KL), BLAS
    return _finish_srp(W, work, t.kind, t.U, t.shrink_only, ext, proj.planes_by_coord, proj.K,
                       proj.L, codes, tables.offsets, tables.ids)


@register_warmup
def warmup_lsh_rebuild():
    rng = np.random.default_rng(0)
    t = make_transform("l2_alsh")
    for dtype in (np.float32, np.float64):
        W = rng.standard_normal((3, 4)).astype(dtype)
        for proj, bits in ((draw_srp(rng, "srp_rademacher", 4 + t.m, 2, 2, dtype), 2),
                           (draw_dwta(rng, 4 + t.m, 2, 2, bin_bits=2), 4)):
            codes, tables = np.empty((2, 3), np.int32), make_tables(2, bits, 3)
            rebuild(W, t, proj, codes, tables, *make_buffers(W, t, proj))
