"""Per-element randomness: every random choice is seeded from (seed, record key), never a global RNG.

This is what makes output bytes independent of how many workers ran and in which order elements
arrived: an element's generator depends only on the job seed and the element's own key. Keys name
files relative to the input pattern (`relative_names`), so they do not depend on where the data lies.

Two generators: `rng_for` (Python's Mersenne Twister) for jobs that run only in Python, and
`stream_for` (`SplitMix64`) for the pre-training job, whose compiled kernel must draw the same
numbers as its Python path.
"""
import hashlib
import os
import random
from typing import Dict, List, Optional, Sequence

import numpy as np

WILDCARDS = "*?["


def stable_hash(*parts) -> int:
    """A 64-bit hash of the parts that is the same in every process (unlike Python's salted `hash`)."""
    digest = hashlib.blake2b(digest_size=8)
    for part in parts:
        if isinstance(part, bytes):
            data = part
        else:
            data = str(part).encode("utf-8")
        # Length-prefix each part so ("ab", "c") and ("a", "bc") hash differently.
        digest.update(len(data).to_bytes(4, "little"))
        digest.update(data)
    return int.from_bytes(digest.digest(), "little")


def rng_for(seed, *key_parts) -> random.Random:
    """A `random.Random` owned by one element: seeded by the job seed and the element's key."""
    return random.Random(stable_hash(seed, *key_parts))


def numpy_rng_for(seed, *key_parts) -> np.random.Generator:
    """A numpy Generator owned by one element, seeded like `rng_for`."""
    return np.random.default_rng(stable_hash(seed, *key_parts))


def stream_for(seed, *key_parts) -> "SplitMix64":
    """A `SplitMix64` stream owned by one element, seeded by the job seed and the element's key."""
    return SplitMix64(stable_hash(seed, *key_parts))


def streams_for(seed, keys: Sequence, *key_parts) -> List["SplitMix64"]:
    """`stream_for(seed, key, *key_parts)` for many keys (a pass's documents), their first draws computed
    in one numpy call instead of one a stream."""
    seeds = [stable_hash(seed, key, *key_parts) for key in keys]
    if not seeds:
        return []
    first = splitmix64_floats(np.array(seeds, dtype=np.uint64)[:, None], 0, _FIRST_BLOCK)
    return [SplitMix64(stream_seed, draws) for stream_seed, draws in zip(seeds, first)]


MASK_64 = (1 << 64) - 1
SPLITMIX_GOLDEN = 0x9E3779B97F4A7C15
SPLITMIX_MIX_1 = 0xBF58476D1CE4E5B9
SPLITMIX_MIX_2 = 0x94D049BB133111EB
_FIRST_BLOCK, _LARGEST_BLOCK = 256, 8192


def splitmix64_floats(seed, start: int, count: int) -> list:
    """Draws start+1 .. start+count of the SplitMix64 stream seeded with `seed`, as floats in [0, 1)
    (a list; a list of lists when `seed` is a column of seeds).

    Draw k is mix(seed + k * 0x9E3779B97F4A7C15 mod 2**64) (Steele, Lea and Flood 2014: xor-shift 30,
    multiply, xor-shift 27, multiply, xor-shift 31), and the float is its top 53 bits / 2**53. The stream
    is counter based, so a block of draws is a few numpy operations (uint64 arithmetic wraps mod 2**64).
    """
    counters = np.arange(start + 1, start + count + 1, dtype=np.uint64)
    seed = np.uint64(seed & MASK_64) if isinstance(seed, int) else seed
    z = seed + counters * np.uint64(SPLITMIX_GOLDEN)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(SPLITMIX_MIX_1)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(SPLITMIX_MIX_2)
    z = z ^ (z >> np.uint64(31))
    return ((z >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))).tolist()


class SplitMix64:
    """The pre-training job's one random stream, drawn alike by its Python path and its compiled kernel.

    Why not `random.Random`: `transforms/pretraining/kernel.py` (numba) implements this same algorithm, so a
    seed gives the same bytes whether numba is installed or not, and an algorithm fixed here (not a
    library's generator) stays the same across Python, numpy and numba versions. Every draw is a
    `random()`: `randint(a, b)` is a + int(random() * (b - a + 1)) and `shuffle` is Fisher-Yates from
    the back, swapping item i with item int(random() * (i + 1)). `random` is the bound `__next__` of a
    generator over numpy-computed blocks (256 draws, doubling up to 8192): a draw costs about a list step.
    `first_draws`, when given, are the stream's first draws already computed (`streams_for`).
    """

    def __init__(self, seed: int, first_draws: Optional[list] = None):
        self.seed = seed & MASK_64
        self.random = self._floats(first_draws or []).__next__

    def _floats(self, first_draws: list):
        yield from first_draws
        drawn = len(first_draws)
        size = max(_FIRST_BLOCK, 2 * drawn)
        while True:
            yield from splitmix64_floats(self.seed, drawn, size)
            drawn += size
            size = min(2 * size, _LARGEST_BLOCK)

    def randint(self, low: int, high: int) -> int:
        """An int in [low, high], both included."""
        return low + int(self.random() * (high - low + 1))

    def shuffle(self, items: list) -> None:
        """Shuffle a list in place."""
        random = self.random
        for i in range(len(items) - 1, 0, -1):
            j = int(random() * (i + 1))
            items[i], items[j] = items[j], items[i]


def pattern_prefix(pattern: str) -> str:
    """The directory part of a file pattern before its first wildcard, ending in "/" (or empty):
    "gs://b/corpus/*/part-*" → "gs://b/corpus/"; a plain file → its directory."""
    wildcard = min((pattern.find(char) for char in WILDCARDS if char in pattern), default=len(pattern))
    return pattern[:pattern.rfind("/", 0, wildcard) + 1]


def relative_names(patterns: Sequence[str], paths: Sequence[str]) -> Dict[str, str]:
    """Each matched path's name relative to the directory its patterns share (the base name for one file).

    Records are keyed by this name and a line, not by the full path, so the same files copied to another
    directory (or to gs://) draw the same random numbers. Names stay distinct: every path starts with the
    shared directory, so cutting it keeps the rest apart; a path that does not (a file system that rewrote
    it) keeps its full path.
    """
    shared = os.path.commonprefix([pattern_prefix(pattern) for pattern in patterns]) if patterns else ""
    shared = shared[:shared.rfind("/") + 1]
    return {path: path[len(shared):] if path.startswith(shared) else path for path in paths}
