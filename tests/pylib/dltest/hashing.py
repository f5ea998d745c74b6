"""Bodies and their sha256: every test and bench checks the bytes it got."""

from __future__ import annotations

import hashlib
import random

from .const import MiB


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path) -> str:
    """The hex sha256 of a file, read 4 MiB at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(4 * MiB):
            digest.update(chunk)
    return digest.hexdigest()


def write_body(path, size: int, seed: int = 1) -> str:
    """Write `size` deterministic, incompressible bytes and return their sha256 hex digest.
    Each MiB is one pseudo-random MiB (from `seed`) whose first 16 bytes are replaced by the MiB
    index and the seed, so no two MiB are equal and no byte range is all zeros."""
    block = bytearray(random.Random(seed).randbytes(MiB))
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        index = 0
        left = size
        while left > 0:
            block[0:16] = index.to_bytes(8, "little") + seed.to_bytes(8, "little")
            chunk = block if left >= MiB else block[:left]
            f.write(chunk)
            digest.update(chunk)
            left -= len(chunk)
            index += 1
    return digest.hexdigest()
