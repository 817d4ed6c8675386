"""Hash tables as flat CSR arrays: one counting sort per table, rebuilt in place.

Table t's bucket c holds the units  ids[t, offsets[t, c] : offsets[t, c + 1]],  in ascending unit
order. That is the whole table: no Python dicts or lists (the EDBT code's dict-of-lists tables were
rebuilt ~145 times per epoch and grew by 3.7 GB, EDBT §9.4). A rebuild rewrites the same arrays.

Shape legend: L tables, n units (rows of the layer's W), n_bits bits per code (K for signed
projections, K*bin_bits for DWTA), NB = 2^n_bits buckets per table.
    codes   (L, n) int32   bucket of every unit in every table (from lsh_hash / lsh_dwta)
    offsets (L, NB + 1) int32
    ids     (L, n) int32
"""
from typing import NamedTuple

import numpy as np

from ._jit import jit, register_warmup
from .cost import Cost

MAX_BITS = 24          # 2^24 + 1 offsets per table (64 MiB) is already far beyond a useful table


class Tables(NamedTuple):
    offsets: np.ndarray      # (L, 2^n_bits + 1) int32
    ids: np.ndarray          # (L, n) int32

    @property
    def n_bits(self):
        return (self.offsets.shape[1] - 1).bit_length() - 1


def make_tables(L, n_bits, n):
    """Preallocate L empty tables of 2^n_bits buckets for n units."""
    if not 1 <= n_bits <= MAX_BITS:
        raise ValueError(f"hash codes of {n_bits} bits need 2^{n_bits} buckets per table; "
                         f"use 1..{MAX_BITS} bits (fewer bits per table, or more tables)")
    return Tables(np.zeros((L, (1 << n_bits) + 1), np.int32), np.zeros((L, n), np.int32))


def build_tables_reference(codes, tables):
    """Dict-of-lists tables (as the EDBT code keeps them), flattened into tables' arrays."""
    L, n = codes.shape
    for t in range(L):
        buckets = {}
        for j in range(n):
            buckets.setdefault(int(codes[t, j]), []).append(j)
        pos = 0
        for c in range(tables.offsets.shape[1] - 1):
            tables.offsets[t, c] = pos
            for j in buckets.get(c, []):
                tables.ids[t, pos] = j
                pos += 1
        tables.offsets[t, -1] = pos


@jit
def _counting_sort(codes, offsets, ids):
    L, n = codes.shape
    NB = offsets.shape[1] - 1
    for t in range(L):
        off = offsets[t]
        off[:] = 0
        for j in range(n):                     # bucket sizes, shifted by one
            off[codes[t, j] + 1] += 1
        for c in range(NB):                    # prefix sum: off[c] = start of bucket c
            off[c + 1] += off[c]
        for j in range(n):                     # place; off[c] walks to the end of bucket c
            c = codes[t, j]
            ids[t, off[c]] = j
            off[c] += 1
        for c in range(NB, 0, -1):             # the end of bucket c-1 is the start of bucket c
            off[c] = off[c - 1]
        off[0] = 0


def build_tables(codes, tables):
    """(Re)build every table from codes (L, n), in place. Codes must lie in [0, 2^n_bits)."""
    if codes.shape != tables.ids.shape:
        raise ValueError(f"codes {codes.shape} do not match tables of shape {tables.ids.shape}")
    _counting_sort(codes, tables.offsets, tables.ids)


def bucket(tables, t, code):
    """Units in bucket `code` of table t (a view)."""
    return tables.ids[t, tables.offsets[t, code]:tables.offsets[t, code + 1]]


def build_tables_cost(L, n, n_bits):
    """A counting sort per table: codes read twice, ids written once, offsets read/written ~3 times."""
    NB1 = (1 << n_bits) + 1
    return Cost(0, L * (2 * n * 4 + 3 * NB1 * 4), L * (n * 4 + 3 * NB1 * 4))


@register_warmup
def warmup_lsh_tables():
    codes = np.array([[1, 0, 1], [3, 3, 2]], np.int32)
    build_tables(codes, make_tables(2, 2, 3))
