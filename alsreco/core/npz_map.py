"""An uncompressed .npz archive's arrays memory-mapped in place.

np.load(mmap_mode=...) maps .npy files but reads .npz members into memory; a model's purchases archive is
written uncompressed (np.savez), so its members can be mapped at their offsets instead and the pages shared
by every process serving the model (the workers of one endpoint, the models of a multi-model endpoint).
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np


def mapped_npz(path: Path) -> dict[str, np.ndarray] | None:
    """The members of an uncompressed .npz (what np.savez writes) memory-mapped in place, or None when the
    archive is anything else (compressed, not a zip, odd headers): np.load then reads it, with its errors."""
    try:
        out = {}
        with zipfile.ZipFile(path) as zf, open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            for info in zf.infolist():
                if info.compress_type != zipfile.ZIP_STORED or not info.filename.endswith(".npy"):
                    return None
                fh.seek(info.header_offset)
                local = fh.read(30)  # the local file header: its name and extra field lengths at 26 and 28
                if len(local) < 30 or local[:4] != b"PK\x03\x04":
                    return None
                fh.seek(info.header_offset + 30 + int.from_bytes(local[26:28], "little")
                        + int.from_bytes(local[28:30], "little"))
                version = np.lib.format.read_magic(fh)
                read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                               (2, 0): np.lib.format.read_array_header_2_0}.get(version)
                if read_header is None:
                    return None
                shape, fortran, dtype = read_header(fh)
                count = int(np.prod(shape, dtype=np.int64))
                if dtype.hasobject or fh.tell() + count * dtype.itemsize > size:
                    return None
                out[info.filename[:-4]] = np.memmap(path, dtype=dtype, mode="r", offset=fh.tell(), shape=shape,
                                                    order="F" if fortran else "C") if count else np.zeros(shape, dtype)
        return out if {"indptr", "indices", "data", "shape"} <= set(out) else None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return None
