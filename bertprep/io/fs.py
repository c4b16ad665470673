"""The one door to storage: every path a user gave (or one derived from it) is opened, listed, sized,
checked, deleted and published here, local (`/data/...`) or remote (`gs://...`) alike.

Local paths use the standard library, so code that reads local files (the formats, the pure
transforms, the commands) runs without Beam; Beam's FileSystems is imported only for a path with a
scheme, and only by this module (`tests/io/test_storage_door.py` checks both). Local matching follows
Beam's rules (`*` stays inside a directory, `**` crosses them, hidden files match), so a pattern names
the same files whichever side reads it. `.gz`/`.bz2` files are decompressed by their extension with
Python's own modules, which raise on a truncated stream instead of ending quietly as Beam's reader
does, so no input is silently lost.

Cloud Storage (`bertprep/io/cloud_storage.py`): before the first gs:// call of a process, the credentials
and the endpoint are checked once, with bounded waits, so a missing login or network is one line
naming the path within seconds instead of Beam's retries (about 20 s for credentials, then 120 s per
request). Against an emulator (`STORAGE_EMULATOR_HOST`) or with Beam's `--no_auth`, the client is
anonymous from the start.

Object stores have no directories and no atomic rename: `is_dir` means "some object lies under this
prefix", `delete_tree` deletes every object under it, and `replace` (write, then publish under the
final name) is one atomic step per object on both sides: `os.replace` locally, a server-side copy
over the destination on Cloud Storage, where a reader sees the old object or the new one, never none.
"""
import bz2
import gzip
import io
import os
import re
import shutil
import uuid
from typing import BinaryIO, Iterable, List, Optional

from bertprep.errors import BertprepError

SCHEME_SEPARATOR = "://"
COMPRESSED_SUFFIXES = (".gz", ".bz2")
_WILDCARDS = re.compile(r"[*?\[]")


def is_remote(path: str) -> bool:
    """Whether `path` names a file through a Beam filesystem (`gs://`, `s3://`...)."""
    return SCHEME_SEPARATOR in str(path)


def _beam_filesystems(path: Optional[str] = None):
    """Beam's FileSystems (only remote paths pay for importing Beam), after the one-time Cloud Storage
    check when `path` is on gs://."""
    if path is not None and str(path).startswith("gs://"):
        from bertprep.io import cloud_storage

        cloud_storage.ensure_ready(path)
    from apache_beam.io.filesystems import FileSystems

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

        filesystems = _beam_filesystems(path)
        if not filesystems.exists(path):  # Beam's reader of a missing object fails only at the first read
            raise FileNotFoundError(2, "No such file or directory", path)
        return filesystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)
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


def open_write(path: str, compression: str = "none") -> BinaryIO:
    """A binary writer of `path`; a local file's directory is created. `compression="gzip"` writes through
    Beam's gzip writer, whose bytes every output written so far has (Python's gzip module would put a
    different header on them)."""
    try:
        if is_remote(path):
            from apache_beam.io.filesystem import CompressionTypes

            raw = _beam_filesystems(path).create(path, compression_type=CompressionTypes.UNCOMPRESSED)
        else:
            directory = os.path.dirname(path)
            if directory:
                os.makedirs(directory, exist_ok=True)
            raw = open(path, "wb")
    except (OSError, IOError) as error:
        raise BertprepError("cannot write %s: %s" % (path, _describe(error))) from None
    if compression == "gzip":
        from apache_beam.io.filesystem import CompressedFile, CompressionTypes

        return CompressedFile(raw, compression_type=CompressionTypes.GZIP)
    return raw


def _describe(error: BaseException) -> str:
    return getattr(error, "strerror", None) or str(error)


def exists(path: str) -> bool:
    """Whether `path` is a file or a directory (on an object store: an object, or a prefix with objects)."""
    if is_remote(path):
        return _beam_filesystems(path).exists(path) or is_dir(path)
    return os.path.exists(path)


def is_dir(path: str) -> bool:
    """A local directory, or a remote prefix with at least one object under `path/`."""
    if is_remote(path):
        prefix = path.rstrip("/") + "/"
        results = _beam_filesystems(path).match([prefix + "**"], limits=[1])
        return any(result.metadata_list for result in results)
    return os.path.isdir(path)


def join(directory: str, *names: str) -> str:
    if is_remote(directory):
        return _beam_filesystems().join(directory, *names)
    return os.path.join(directory, *names)


def dirname(path: str) -> str:
    """os.path.dirname for both sides (`gs://b/x/y` → `gs://b/x`; a bucket is its own directory)."""
    if is_remote(path):
        scheme, _, rest = path.partition(SCHEME_SEPARATOR)
        return scheme + SCHEME_SEPARATOR + rest.rsplit("/", 1)[0] if "/" in rest else path
    return os.path.dirname(path)


def basename(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1] if is_remote(path) else os.path.basename(path)


def makedirs(path: str) -> None:
    """Create a local directory and its parents; nothing on an object store (a prefix needs no creating)."""
    if not is_remote(path):
        os.makedirs(path, exist_ok=True)


def read_bytes(path: str, what: str = "file") -> bytes:
    """Whole contents of a file (never decompressed); a missing or unreadable one is one BertprepError line."""
    try:
        with _open_raw(path) as handle:
            return handle.read()
    except FileNotFoundError:
        raise BertprepError("%s not found: %s" % (what, path)) from None
    except BertprepError:
        raise
    except Exception as error:  # OSError locally; Beam wraps every backend's error differently
        raise BertprepError("cannot read %s %s: %s" % (what, path, _describe(error))) from None


def read_text(path: str, what: str = "file") -> str:
    data = read_bytes(path, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise BertprepError("%s %s line %d: not valid UTF-8" % (what, path, line)) from None


def read_parquet(path: str, what: str = "Parquet table"):
    """A whole Parquet file as a pyarrow Table (tables read whole are small: mask-probs tables, side files)."""
    import pyarrow.parquet as parquet

    try:
        if not is_remote(path):
            return parquet.read_table(path)
        with open_read(path, decompress=False) as handle:
            return parquet.read_table(io.BytesIO(handle.read()))
    except BertprepError:
        raise
    except FileNotFoundError:
        raise BertprepError("%s not found: %s" % (what, path)) from None
    except Exception as error:  # pyarrow raises several types for unreadable files
        raise BertprepError("cannot read %s as Parquet: %s" % (path, error)) from None


def write_bytes(path: str, data: bytes) -> str:
    """Write `data` under a temporary name beside `path`, then publish it with `replace`: a reader sees the
    old file or the whole new one, never a part."""
    temporary = "%s.tmp-%s" % (path, uuid.uuid4().hex)
    try:
        with open_write(temporary) as handle:
            handle.write(data)
        replace(temporary, path)
    except BaseException:
        delete([temporary])
        raise
    return path


def append_bytes(path: str, data: bytes) -> None:
    """Add `data` at the end of a file (made if missing). An object store cannot append: the object is
    rewritten whole, so this is for small files only (a training log: one line per logged step)."""
    if not is_remote(path):
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        with open(path, "ab") as handle:
            handle.write(data)
        return
    write_bytes(path, (read_bytes(path) if exists(path) else b"") + data)


def open_text_write(path: str):
    """A UTF-8 text writer of `path` (streamed; on an object store the object appears when it is closed)."""
    return io.TextIOWrapper(open_write(path), encoding="utf-8")


def replace(source: str, destination: str) -> None:
    """Publish `source` under the name `destination`, replacing what was there in one step: `os.replace`
    locally; on an object store a server-side copy over the destination (one new object generation,
    never a moment without one), then the source is deleted."""
    try:
        if is_remote(destination):
            _beam_filesystems(destination).rename([source], [destination])
        else:
            os.replace(source, destination)
    except (OSError, IOError) as error:
        raise BertprepError("cannot publish %s: %s" % (destination, _describe(error))) from None


def copy(source: str, destination: str) -> None:
    """Copy one file (any side to any side) through a stream."""
    with open_read(source, decompress=False) as reader, open_write(destination) as writer:
        shutil.copyfileobj(reader, writer, 1 << 20)


def delete(paths: Iterable[str]) -> None:
    """Delete files; one already gone is no error (a retried or concurrent cleanup)."""
    paths = list(paths)
    remote = [path for path in paths if is_remote(path)]
    for path in paths:
        if not is_remote(path):
            try:
                os.remove(path)
            except FileNotFoundError:
                pass
    if remote:
        filesystems = _beam_filesystems(remote[0])
        present = [path for path in remote if filesystems.exists(path)]
        if present:
            filesystems.delete(present)


def delete_tree(path: str) -> None:
    """Delete a directory and everything under it (on an object store: every object under `path/`)."""
    if is_remote(path):
        prefix = path.rstrip("/") + "/"
        delete(list_files(prefix + "**"))
        return
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)


def list_files(pattern: str) -> List[str]:
    """Files matching a glob (Beam's rules), sorted; an empty list when none does (unlike `match`)."""
    if is_remote(pattern):
        return sorted(_match_remote(pattern))
    return sorted(path for path in _match_local(pattern) if not os.path.isdir(path))


def list_sizes(pattern: str) -> List[tuple]:
    """(path, bytes) of every file matching a glob, sorted by path."""
    if is_remote(pattern):
        results = _beam_filesystems(pattern).match([pattern])
        return sorted((m.path, m.size_in_bytes) for result in results for m in result.metadata_list)
    return [(path, os.path.getsize(path)) for path in list_files(pattern)]


def expand_files(pattern: str) -> List[dict]:
    """{path, size, mtime} of every file a pattern names, a directory's files included (walked, sorted):
    what a service fingerprint lists. Local patterns follow the shell's glob (`~` expanded), as the jobs
    file's paths are written; a remote pattern without a wildcard is the object itself and every object
    under it as a directory."""
    if is_remote(pattern):
        wildcard = _WILDCARDS.search(pattern) is not None
        patterns = [pattern] if wildcard else [pattern.rstrip("/"), pattern.rstrip("/") + "/**"]
        try:
            results = _beam_filesystems(pattern).match(patterns)
        except BertprepError:
            raise
        except Exception as error:  # Beam wraps filesystem errors in BeamIOError
            raise BertprepError("cannot list %s: %s" % (pattern, error)) from None
        found = {meta.path: {"path": meta.path, "size": meta.size_in_bytes,
                             "mtime": getattr(meta, "last_updated_in_seconds", 0)}
                 for result in results for meta in result.metadata_list}
        return [found[path] for path in sorted(found)]
    import glob

    found = []
    for path in sorted(glob.glob(os.path.expanduser(pattern))):
        if os.path.isdir(path):
            for root, dirs, names in os.walk(path):
                dirs.sort()
                found.extend(_stat(os.path.join(root, name)) for name in sorted(names))
        else:
            found.append(_stat(path))
    return found


def _stat(path: str) -> dict:
    status = os.stat(path)
    return {"path": os.path.abspath(path), "size": status.st_size, "mtime": status.st_mtime_ns / 1e9}


def sha256(path: str, chunk: int = 1 << 20) -> str:
    """SHA-256 hex of a file's bytes, streamed."""
    import hashlib

    digest = hashlib.sha256()
    with open_read(path, decompress=False) as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def list_dir(path: str) -> List[str]:
    """Names of the files and subdirectories directly in a directory, sorted ([] if there is none)."""
    if is_remote(path):
        prefix = path.rstrip("/") + "/"
        return sorted({found[len(prefix):].split("/", 1)[0] for found in _match_remote(prefix + "**")})
    try:
        return sorted(os.listdir(path))
    except (FileNotFoundError, NotADirectoryError):
        return []


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
    results = _beam_filesystems(remote[0]).match(remote)
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
    return [metadata.path for result in _beam_filesystems(pattern).match([pattern])
            for metadata in result.metadata_list]


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
