"""Per-element randomness: every random choice is seeded from (seed, record key), never a global RNG.

This is what makes output bytes independent of how many workers ran and in which order elements
arrived: an element's generator depends only on the job seed and the element's own key.
"""
import hashlib
import os
import random
from typing import Dict, Sequence

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
