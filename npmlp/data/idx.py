"""The IDX format of MNIST, Fashion-MNIST, KMNIST and EMNIST: one reader for all four, plain or `.gz`.

Layout (LeCun's MNIST page), all integers big-endian:

    bytes 0-1   0x0000
    byte  2     element type; 0x08 = unsigned byte, the only type these datasets use
    byte  3     ndim (3 for images: N, rows, cols; 1 for labels: N)
    4*ndim      the dimensions, uint32 each
    rest        the elements in C order, exactly prod(dims) of them
"""

from __future__ import annotations

import gzip
import struct

import numpy as np

from npmlp.data.files import corrupt, read_bytes

IDX_UBYTE = 0x08


def parse_idx(buf: bytes, path="<bytes>") -> np.ndarray:
    """The uint8 array stored in the IDX bytes `buf` (a read-only view; `path` is for messages)."""
    if len(buf) < 4:
        raise corrupt(path, f"it is {len(buf)} bytes long, too short for an IDX header")
    zero, dtype_code, ndim = struct.unpack(">HBB", buf[:4])
    if zero != 0:
        raise corrupt(path, "it does not start with the IDX magic bytes 0x0000 (not an IDX file)")
    if dtype_code != IDX_UBYTE:
        raise corrupt(path, f"its IDX element type is 0x{dtype_code:02x}; only 0x08 (unsigned byte) is used "
                            "by these datasets")
    header = 4 + 4 * ndim
    if len(buf) < header:
        raise corrupt(path, "its IDX header is cut short")
    shape = struct.unpack(f">{ndim}I", buf[4:header])
    expected = header + int(np.prod(shape, dtype=np.int64))
    if len(buf) != expected:
        raise corrupt(path, f"its header promises shape {shape} = {expected:,} bytes but it holds "
                            f"{len(buf):,} bytes (truncated or padded)")
    return np.frombuffer(buf, dtype=np.uint8, offset=header).reshape(shape)


def read_idx(path) -> np.ndarray:
    """Read a plain or gzip-compressed IDX file into a uint8 array of its stored shape."""
    return parse_idx(read_bytes(path), path)


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of a uint8 array (header + C-order data)."""
    array = np.ascontiguousarray(array)
    if array.dtype != np.uint8:
        raise TypeError(f"IDX writer handles uint8 only, got {array.dtype}")
    header = struct.pack(">HBB", 0, IDX_UBYTE, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def write_idx(path, array: np.ndarray) -> None:
    """Write `array` as IDX; gzip-compressed when `path` ends in .gz."""
    data = idx_bytes(array)
    if str(path).endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    with open(path, "wb") as f:
        f.write(data)
