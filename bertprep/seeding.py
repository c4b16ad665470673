"""Per-element randomness: every random choice is seeded from (seed, record key), never a global RNG.

This is what makes output bytes independent of how many workers ran and in which order elements
arrived: an element's generator depends only on the job seed and the element's own key.
"""
import hashlib
import random

import numpy as np


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
