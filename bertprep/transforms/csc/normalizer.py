"""Script normalisation of CSC pairs before counting (Traditional → Simplified Chinese, or nothing)."""
from typing import Callable


def make_normalizer(traditional_to_simplified: bool) -> Callable[[str], str]:
    """Identity, or OpenCC Traditional→Simplified conversion (opencc-python-reimplemented, `t2s`)."""
    if not traditional_to_simplified:
        return lambda text: text
    import opencc  # imported lazily: only runs that ask for conversion pay for loading its dictionaries

    converter = opencc.OpenCC("t2s")
    return converter.convert
