"""Deterministic test content served by the test origin under /bytes/<N>[/<anything>].

The body of an object is a function of its path (without the query) and its version, laid out in
blocks of 64 KiB so that any misplaced byte is detectable:

    block i = seed[:8] || i as 8-byte big-endian || 65520 pseudo-random bytes

The 16-byte header names the object and the block; the fill is a per-object pseudo-random base
(SHAKE-128 of the seed) rotated by a per-block amount, so two blocks never look alike, a shift by
any number of bytes changes what is read, and bytes from another object carry another header.
Generating a block costs two slices, so the origin streams at memory speed.

Importable by tests:
    content(path, offset, length, version="0") -> bytes
    sha256_of(path, n, version="0") -> hex digest of the first n bytes
    etag_of(path, version="0"), last_modified_of(path, version="0")
    find_mismatch(path, data, offset=0, version="0") -> first wrong offset or None
"""

import functools
import hashlib

BLOCK = 64 * 1024
HEADER = 16
FILL = BLOCK - HEADER
_ROT_STEP = 2654435761  # Knuth's multiplicative constant: consecutive blocks rotate far apart


def seed_of(path: str, version: str = "0") -> bytes:
    """32-byte seed naming one version of one object. `path` excludes the query string."""
    return hashlib.sha256(f"dlproxy-origin\0{path}\0{version}".encode()).digest()


@functools.lru_cache(maxsize=512)
def _base2(seed: bytes) -> bytes:
    base = hashlib.shake_128(seed).digest(FILL)
    return base + base


def _block(seed: bytes, index: int) -> bytes:
    base2 = _base2(seed)
    rot = (int.from_bytes(seed[8:16], "big") + index * _ROT_STEP) % FILL
    return seed[:8] + index.to_bytes(8, "big") + base2[rot:rot + FILL]


def iter_range(seed: bytes, begin: int, end: int, piece: int = 1024 * 1024):
    """Yield the bytes [begin, end) of the object named by `seed`, in pieces of about `piece`."""
    pos = begin
    while pos < end:
        stop = min(end, pos + piece)
        parts = []
        p = pos
        while p < stop:
            index, off = divmod(p, BLOCK)
            take = min(BLOCK - off, stop - p)
            blk = _block(seed, index)
            parts.append(blk if (off == 0 and take == BLOCK) else blk[off:off + take])
            p += take
        yield parts[0] if len(parts) == 1 else b"".join(parts)
        pos = stop


def content_by_seed(seed: bytes, offset: int, length: int) -> bytes:
    return b"".join(iter_range(seed, offset, offset + length))


def content(path: str, offset: int, length: int, version: str = "0") -> bytes:
    """Bytes [offset, offset+length) of the object at `path` (no query), version `version`."""
    return content_by_seed(seed_of(path, version), offset, length)


def sha256_of(path: str, n: int, version: str = "0") -> str:
    """Hex SHA-256 of the first n bytes of the object: what a correct download must hash to."""
    h = hashlib.sha256()
    for piece in iter_range(seed_of(path, version), 0, n, 4 * 1024 * 1024):
        h.update(piece)
    return h.hexdigest()


def etag_of(path: str, version: str = "0") -> str:
    """The origin's default strong ETag (quoted) for this object version."""
    return '"' + hashlib.sha256(seed_of(path, version)).hexdigest()[:24] + '"'


def last_modified_of(path: str, version: str = "0") -> int:
    """The origin's default Last-Modified, as a unix time, for this object version."""
    return 1_700_000_000 + int.from_bytes(seed_of(path, version)[16:19], "big") % 10_000_000


def find_mismatch(path: str, data: bytes, offset: int = 0, version: str = "0"):
    """Offset (absolute, in the object) of the first byte of `data` that differs from the object's
    bytes starting at `offset`, or None if all match. Handy in assertion messages."""
    expected = content(path, offset, len(data), version)
    if expected == data:
        return None
    step = 4096
    for i in range(0, len(data), step):
        if expected[i:i + step] != data[i:i + step]:
            for j in range(i, min(i + step, len(data))):
                if expected[j] != data[j]:
                    return offset + j
    return offset + len(data)
