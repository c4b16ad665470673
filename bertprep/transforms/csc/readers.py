"""Transitional: the CSC pair readers now live in bertprep.io.formats.csc (one reader layer, issue #15).

Kept so the pipelines rewritten in parallel keep importing `transforms.csc.readers`; delete once
every caller imports bertprep.io.formats.csc and bertprep.transforms.csc.normalizer.
"""
from bertprep.io.formats.csc import (FORMATS, CscDeadLetter, CscPair, PairOrDeadLetter,
                                     detect_format, iter_file_pairs, iter_line_pairs, iter_pairs,
                                     iter_parallel_files, iter_parallel_pairs, iter_sgml_pairs)
from bertprep.transforms.csc.normalizer import make_normalizer

__all__ = ["FORMATS", "CscDeadLetter", "CscPair", "PairOrDeadLetter", "detect_format", "iter_file_pairs",
           "iter_line_pairs", "iter_pairs", "iter_parallel_files", "iter_parallel_pairs", "iter_sgml_pairs",
           "make_normalizer"]
