"""Content-addressed layout of a Xet file, for the Xet service imitation (xet_service.py).

A file is a list of *terms*; each term is a run of chunks [start, end) of one *xorb*. A xorb is
a sequence of chunks, each serialised as the 8-byte chunk header the clients parse followed by
its bytes (compression scheme 0, "none"):

    version (1 byte, 0) | compressed length (3 bytes LE) | scheme (1 byte) | length (3 bytes LE)

(learned from @huggingface/hub's XetBlob.ts `parseChunkHeader` and xet-core's spec/xorb.md).

The layout is built so that every client path is exercised:
  * most xorbs hold two segments of the file separated by two chunks the file never uses, so a
    V2 reconstruction lists two byte ranges for one URL (a multi-range request answered
    multipart/byteranges);
  * every fifth xorb holds one segment (a single-range request answered 206);
  * every seventh segment is followed by a term that repeats two chunks of an earlier xorb
    (deduplication: the same xorb range used twice by one file).

Hashes are sha256 hex (the real service uses Merkle hashes over BLAKE3; the clients treat them as
opaque 64-hex names). Everything is a deterministic function of `seed` and `size`.
"""

import bisect
import hashlib
import random
import struct

CHUNK_MIN = 8 * 1024
CHUNK_MAX = 96 * 1024
SEGMENT_CHUNKS = (10, 18)
GAP_CHUNKS = 2


def chunk_header(length):
    return struct.pack("<B", 0) + length.to_bytes(3, "little") + struct.pack("<B", 0) + \
        length.to_bytes(3, "little")


class Xorb:
    def __init__(self):
        self.chunks = []  # bytes of each chunk
        self._data = None
        self.offsets = None  # serialised offset of chunk i; offsets[-1] = total length
        self.hash = None

    def seal(self):
        parts, offsets, pos = [], [], 0
        for c in self.chunks:
            offsets.append(pos)
            parts.append(chunk_header(len(c)))
            parts.append(c)
            pos += 8 + len(c)
        offsets.append(pos)
        self._data = b"".join(parts)
        self.offsets = offsets
        self.hash = hashlib.sha256(self._data).hexdigest()

    @property
    def data(self):
        return self._data

    def byte_range(self, start, end):
        """Serialised bytes of chunks [start, end) as an inclusive (first, last) pair."""
        return self.offsets[start], self.offsets[end] - 1


class FileLayout:
    def __init__(self, seed, size):
        rng = random.Random(f"{seed}:{size}")
        self.xorbs = {}  # hash -> Xorb
        self.terms = []  # (xorb hash, chunk start, chunk end, unpacked length)
        pieces = []
        remaining = size
        seg_index = 0
        xorb_count = 0

        def new_chunks(count):
            nonlocal remaining
            out = []
            for _ in range(count):
                if remaining <= 0:
                    break
                n = min(rng.randint(CHUNK_MIN, CHUNK_MAX), remaining)
                out.append(rng.randbytes(n))
                remaining -= n
            return out

        while remaining > 0:
            xorb = Xorb()
            single = xorb_count % 5 == 4
            segments = 1 if single else 2
            spans = []
            for s in range(segments):
                if remaining <= 0:
                    break
                if s == 1:  # chunks the file never uses, between the two segments
                    xorb.chunks.extend(rng.randbytes(rng.randint(CHUNK_MIN, CHUNK_MAX))
                                       for _ in range(GAP_CHUNKS))
                begin = len(xorb.chunks)
                xorb.chunks.extend(new_chunks(rng.randint(*SEGMENT_CHUNKS)))
                spans.append((begin, len(xorb.chunks)))
            xorb.seal()
            self.xorbs[xorb.hash] = xorb
            xorb_count += 1
            for begin, end in spans:
                self._add_term(xorb, begin, end, pieces)
                seg_index += 1
                if seg_index % 7 == 0 and remaining > 0 and len(self.terms) > 2:
                    self._add_repeat(rng, pieces)
        # The repeats added bytes beyond `size`: trim the file by dropping whole trailing terms
        # would change the layout, so the size is what the terms add up to.
        self.content = b"".join(pieces)
        self.size = len(self.content)
        self.hash = hashlib.sha256(self.content).hexdigest()
        self.term_offsets = []
        pos = 0
        for t in self.terms:
            self.term_offsets.append(pos)
            pos += t[3]

    def _add_term(self, xorb, begin, end, pieces):
        data = xorb.chunks[begin:end]
        self.terms.append((xorb.hash, begin, end, sum(len(c) for c in data)))
        pieces.extend(data)

    def _add_repeat(self, rng, pieces):
        h, begin, end, _ = self.terms[rng.randrange(len(self.terms) - 1)]
        first = begin + (1 if end - begin > 3 else 0)
        self._add_term(self.xorbs[h], first, min(first + 2, end), pieces)

    # --- reconstructions ----------------------------------------------------------------

    def select(self, first, last):
        """Terms covering file bytes [first, last] and the offset of `first` in the first."""
        i = bisect.bisect_right(self.term_offsets, first) - 1
        chosen = []
        while i < len(self.terms) and self.term_offsets[i] <= last:
            chosen.append(self.terms[i])
            i += 1
        offset = first - self.term_offsets[bisect.bisect_right(self.term_offsets, first) - 1]
        return chosen, offset

    def xorb_ranges(self, terms):
        """Per xorb, the merged chunk ranges [start, end) the terms use, sorted."""
        per = {}
        for h, begin, end, _ in terms:
            per.setdefault(h, []).append([begin, end])
        for h, spans in per.items():
            spans.sort()
            merged = [spans[0]]
            for b, e in spans[1:]:
                if b <= merged[-1][1]:
                    merged[-1][1] = max(merged[-1][1], e)
                else:
                    merged.append([b, e])
            per[h] = merged
        return per


def term_json(term):
    h, begin, end, length = term
    return {"hash": h, "unpacked_length": length, "range": {"start": begin, "end": end}}
