"""Local paths and remote ones (`gs://...`) in one place: open, match, size, exists, join.

Local paths use the standard library, so code that reads local files (the formats, the pure
transforms, the commands) runs without Beam; Beam's FileSystems is imported only for a path with a
scheme. Local matching follows Beam's rules (`*` stays inside a directory, `**` crosses them, hidden
files match), so a pattern names the same files whichever side reads it. `.gz`/`.bz2` files are
decompressed by their extension with Python's own modules, which raise on a truncated stream
instead of ending quietly as Beam's reader does, so no input is silently lost.
"""
import bz2
import gzip
import io
import os
import re
from typing import BinaryIO, Iterable, List

from bertprep.errors import BertprepError

SCHEME_SEPARATOR = "://"
COMPRESSED_SUFFIXES = (".gz", ".bz2")
_WILDCARDS = re.compile(r"[*?\[]")


def is_remote(path: str) -> bool:
    """Whether `path` names a file through a Beam filesystem (`gs://`, `s3://`...)."""
    return SCHEME_SEPARATOR in str(path)


def _beam_filesystems():
    from apache_beam.io.filesystems import FileSystems  # only remote paths pay for importing Beam

    return FileSystems


class _Decompressed(io.BufferedReader):
    """gzip/bz2 over a raw file, closing both when closed."""

    def __init__(self, raw, decompressor):
        super().__init__(decompressor)
        self._raw = raw

    def close(self):
        try:
            super().close()
        finally:
            self._raw.close()


def _open_raw(path: str) -> BinaryIO:
    if is_remote(path):
        from apache_beam.io.filesystem import CompressionTypes

        return _beam_filesystems().open(path, compression_type=CompressionTypes.UNCOMPRESSED)
    return open(path, "rb")


def open_read(path: str, decompress: bool = True) -> BinaryIO:
    """A binary reader of `path`; `.gz`/`.bz2` files are decompressed unless `decompress` is False."""
    try:
        raw = _open_raw(path)
    except (OSError, IOError) as error:  # Beam's BeamIOError is an IOError
        raise BertprepError("cannot open %s: %s" % (path, _describe(error))) from None
    lowered = path.lower()
    if not decompress or not lowered.endswith(COMPRESSED_SUFFIXES):
        return raw
    decompressor = gzip.GzipFile(fileobj=raw, mode="rb") if lowered.endswith(".gz") else bz2.BZ2File(raw, mode="rb")
    return _Decompressed(raw, decompressor)


def open_write(path: str) -> BinaryIO:
    """A binary writer of `path` (no compression); a local file's directory is created."""
    try:
        if is_remote(path):
            from apache_beam.io.filesystem import CompressionTypes

            return _beam_filesystems().create(path, compression_type=CompressionTypes.UNCOMPRESSED)
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        return open(path, "wb")
    except (OSError, IOError) as error:
        raise BertprepError("cannot write %s: %s" % (path, _describe(error))) from None


def _describe(error: BaseException) -> str:
    return getattr(error, "strerror", None) or str(error)


def exists(path: str) -> bool:
    if is_remote(path):
        return _beam_filesystems().exists(path)
    return os.path.exists(path)


def join(directory: str, *names: str) -> str:
    if is_remote(directory):
        return _beam_filesystems().join(directory, *names)
    return os.path.join(directory, *names)


def size(path: str) -> int:
    """Bytes of one file (compressed size for a compressed file)."""
    return total_size([path])


def total_size(paths: Iterable[str]) -> int:
    """Bytes of all `paths` together: what num_shards and progress estimates are sized from."""
    paths = list(paths)
    remote = [path for path in paths if is_remote(path)]
    local = sum(os.path.getsize(path) for path in paths if not is_remote(path))
    if not remote:
        return local
    results = _beam_filesystems().match(remote)
    return local + sum(metadata.size_in_bytes for result in results for metadata in result.metadata_list)


def match(pattern: str) -> List[str]:
    """All files matching a path or glob (comma-separated patterns allowed), each pattern's sorted; an
    error if a pattern matches nothing or names a local directory (reading it would fail in a worker)."""
    paths = []
    for single in [part for part in pattern.split(",") if part]:
        try:
            found = sorted(_match_remote(single) if is_remote(single) else _match_local(single))
        except BertprepError:
            raise
        except Exception as error:  # Beam raises BeamIOError with nested details
            raise BertprepError("cannot list %s: %s" % (single, error)) from None
        if not found:
            raise BertprepError("no input file matches %s" % single)
        for path in found:
            if not is_remote(path) and os.path.isdir(path):
                hint = "give its files, e.g. %s" % os.path.join(path, "*") if path == single else \
                    "matched by %s" % single
                raise BertprepError("input %s is a directory, not a file (%s)" % (path, hint))
        paths.extend(found)
    return paths


def _match_remote(pattern: str) -> List[str]:
    return [metadata.path for result in _beam_filesystems().match([pattern]) for metadata in result.metadata_list]


def _match_local(pattern: str) -> List[str]:
    """Beam's LocalFileSystem rules without Beam: a plain path matches itself if it exists; a glob is
    matched against every file under the directory before its first wildcard."""
    if pattern.endswith(os.sep):
        pattern += "*"
    wildcard = _WILDCARDS.search(pattern)
    if wildcard is None:
        return [pattern] if os.path.exists(pattern) else []
    root = os.path.dirname(pattern[:wildcard.start()])
    matches = re.compile(translate_pattern(pattern)).match
    found = []
    for directory, _, names in os.walk(root or os.curdir):
        for name in names:
            path = os.path.join(directory, name) if root else os.path.relpath(os.path.join(directory, name))
            if matches(path):
                found.append(path)
    return found


def translate_pattern(pattern: str) -> str:
    """A glob as a regular expression, as Beam reads globs: `*` is any run of characters but `/`,
    `**` any run at all, `?` one character, `[...]` a class (`[!...]` negated)."""
    parts = []
    index, length = 0, len(pattern)
    while index < length:
        char = pattern[index]
        index += 1
        if char == "*":
            if index < length and pattern[index] == "*":
                parts.append(".*")
                index += 1
            else:
                parts.append(r"[^/\\]*")
        elif char == "?":
            parts.append(".")
        elif char == "[":
            end = index
            if end < length and pattern[end] == "!":
                end += 1
            if end < length and pattern[end] == "]":
                end += 1
            while end < length and pattern[end] != "]":
                end += 1
            if end >= length:  # no closing bracket: a literal "["
                parts.append(r"\[")
                continue
            members = pattern[index:end].replace("\\", "\\\\")
            index = end + 1
            if members.startswith("!"):
                members = "^" + members[1:]
            elif members.startswith("^"):
                members = "\\" + members
            parts.append("[%s]" % members)
        else:
            parts.append(re.escape(char))
    return r"(?ms)" + "".join(parts) + r"\Z"
