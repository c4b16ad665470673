"""Transitional: the readers now live in bertprep.io.formats (one module a format) and bertprep.io.fs.

Kept so the pipelines rewritten in parallel with issue #15 keep importing `bertprep.io.readers`;
delete once every caller imports bertprep.io.formats (and bertprep.io.fs for opening files).
"""
from bertprep.io.formats import *  # noqa: F401,F403
from bertprep.io.formats import __all__ as _FORMATS_NAMES
from bertprep.io.fs import open_read as open_binary

__all__ = _FORMATS_NAMES + ["open_binary"]
