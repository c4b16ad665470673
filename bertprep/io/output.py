"""The output-directory protocol every job follows.

    <output>/<kind>-00000-of-00004.tfrecord[.gz]   records, sorted inside each shard
    <output>/dead_letters/dead_letters-00000-of-00001.jsonl
    <output>/info.json                              kind, feature spec, config, counts, version
    <output>/_COMPLETE                              written last: the output is whole

Every file is written under a temporary name and renamed into place, and the marker comes last, so a
reader that sees `_COMPLETE` never reads a half-written run. Paths go through `bertprep.io.fs`, so
`gs://` outputs work the same way as local ones (the README's "Publishing on an object store" says how
each step stays correct without an atomic directory rename).
"""
import json
import math
import re
import uuid
from typing import Iterable, List, Sequence

from bertprep.errors import BertprepError
from bertprep.io import fs, tfrecord

COMPLETE_MARKER = "_COMPLETE"
INFO_FILE = "info.json"
DEAD_LETTER_DIR = "dead_letters"
TEMP_INFIX = ".tmp-"
SHARD_NAME = re.compile(r"^(?P<prefix>.+)-\d{5}-of-\d{5}(\.[A-Za-z0-9.]+)?$")


def join(directory: str, *names: str) -> str:
    return fs.join(directory, *names)


def default_num_shards(input_bytes: int, bytes_per_shard: int = 32 << 20) -> int:
    """Shards from the input size only (never the worker count), so output names are reproducible."""
    return max(1, int(math.ceil(input_bytes / float(bytes_per_shard))))


def shard_name(prefix: str, index: int, num_shards: int, suffix: str) -> str:
    return "%s-%05d-of-%05d%s" % (prefix, index, num_shards, suffix)


def tfrecord_suffix(compression: str) -> str:
    return ".tfrecord.gz" if compression == "gzip" else ".tfrecord"


def _exists(path: str) -> bool:
    try:
        return fs.exists(path)
    except BertprepError:  # no credentials or no network: one line, said now rather than as "not there"
        raise
    except Exception:  # a remote filesystem error reads as "not there"; the write step reports the real one
        return False


def describe_os_error(error: OSError, path: str) -> str:
    """One line for disk-full and permission errors, naming the path."""
    reason = error.strerror or str(error)
    return "cannot write %s: %s" % (getattr(error, "filename", None) or path, reason)


class OutputDirectory:
    """Guards one job's output directory: refuse to clobber, stage, publish with a marker last."""

    def __init__(self, path: str, overwrite: bool = False):
        self.path = path
        self.overwrite = overwrite

    def file(self, *names: str) -> str:
        return join(self.path, *names)

    def is_complete(self) -> bool:
        return _exists(self.file(COMPLETE_MARKER))

    def prepare(self, side_outputs: Sequence[str] = ()) -> None:
        """Check the directory before the pipeline starts; with overwrite, withdraw the old output.

        `side_outputs`: glob patterns (relative to the directory) of files a job writes beside the
        protocol's own, removed with the rest on overwrite so an old run's side files never linger."""
        if self.is_complete():
            if not self.overwrite:
                raise BertprepError("%s already holds a complete output; pass --overwrite to replace it" % self.path)
            # Withdraw the marker first: if the rerun dies, nobody mistakes the leftovers for a whole output.
            fs.delete([self.file(COMPLETE_MARKER)])
        if not fs.is_remote(self.path):
            try:
                fs.makedirs(fs.join(self.path, DEAD_LETTER_DIR))
                probe = fs.join(self.path, ".write-probe-%s" % uuid.uuid4().hex)
                with fs.open_write(probe) as handle:
                    handle.write(b"ok")
                fs.delete([probe])
            except OSError as error:
                raise BertprepError(describe_os_error(error, self.path)) from None
        if self.overwrite:
            self.remove_outputs(side_outputs)
        else:  # a killed run's half-written temporaries are ours and never part of an output
            self.remove_temporaries()

    def remove_temporaries(self) -> None:
        patterns = [self.file("*" + TEMP_INFIX + "*"), self.file(DEAD_LETTER_DIR, "*" + TEMP_INFIX + "*")]
        paths = sorted({path for pattern in patterns for path in fs.list_files(pattern)})
        if paths:
            fs.delete(paths)

    def remove_outputs(self, side_outputs: Sequence[str] = ()) -> None:
        """Delete files an earlier run of ours left (shards, dead letters, info, reports, temporaries, the
        job's `side_outputs` patterns)."""
        patterns = [self.file("*.tfrecord*"), self.file("*.parquet"), self.file("*" + TEMP_INFIX + "*"),
                    self.file(DEAD_LETTER_DIR, "*.jsonl*"), self.file(INFO_FILE), self.file("report.*")]
        patterns += [self.file(pattern) for pattern in side_outputs]
        paths = [path for pattern in patterns for path in fs.list_files(pattern)]
        if paths:  # a temporary shard matches two patterns: delete each file once
            fs.delete(sorted(set(paths)))

    def remove_stale_shards(self, published: Iterable[str]) -> List[str]:
        """Delete shards a killed earlier run into this directory left under other names (another
        --num-shards or --compression): files named like a `published` shard (same prefix,
        NNNNN-of-NNNNN) that are not in `published`. Files not named like our shards are left alone.
        Returns the deleted paths."""
        keep = {name for name in published if SHARD_NAME.match(name)}
        prefixes = sorted({SHARD_NAME.match(name).group("prefix") for name in keep})
        if not prefixes:
            return []
        matches = [path for prefix in prefixes for path in fs.list_files(self.file("%s-*-of-*" % prefix))]
        stale = sorted({path for path in matches if _is_stale_shard(fs.basename(path), prefixes, keep)})
        if stale:
            fs.delete(stale)
        return stale

    def read_info(self) -> dict:
        return read_json(self.file(INFO_FILE))

    def write_json(self, name: str, data: dict) -> str:
        return write_json_atomically(self.file(name), data)

    def mark_complete(self, summary: dict) -> None:
        write_json_atomically(self.file(COMPLETE_MARKER), summary)


def _is_stale_shard(name: str, prefixes, keep) -> bool:
    match = SHARD_NAME.match(name)
    return bool(match) and match.group("prefix") in prefixes and name not in keep and TEMP_INFIX not in name


def write_bytes_atomically(path: str, data: bytes) -> str:
    temporary = path + TEMP_INFIX + uuid.uuid4().hex
    try:
        with fs.open_write(temporary) as handle:
            handle.write(data)
        fs.replace(temporary, path)
    except OSError as error:
        raise BertprepError(describe_os_error(error, path)) from None
    return path


def write_json_atomically(path: str, data: dict) -> str:
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=_json_default) + "\n"
    return write_bytes_atomically(path, text.encode("utf-8"))


def _json_default(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return str(value)


def read_json(path: str) -> dict:
    try:
        return json.loads(fs.read_bytes(path).decode("utf-8"))
    except ValueError as error:
        raise BertprepError("%s is not valid JSON: %s" % (path, error)) from None


class ShardWriter:
    """Writes one shard under a temporary name; `close()` renames it into place, `abort()` removes it."""

    def __init__(self, path: str, compression: str = "none", framing: str = "tfrecord"):
        self.path = path
        self.framing = framing
        self.records = 0
        self.bytes = 0
        self._temporary = path + TEMP_INFIX + uuid.uuid4().hex
        try:
            self._handle = fs.open_write(self._temporary, compression="gzip" if compression == "gzip" else "none")
        except OSError as error:
            raise BertprepError(describe_os_error(error, path)) from None

    def write(self, record: bytes) -> None:
        data = tfrecord.frame(record) if self.framing == "tfrecord" else record
        try:
            self._handle.write(data)
        except OSError as error:
            raise BertprepError(describe_os_error(error, self.path)) from None
        self.records += 1
        self.bytes += len(data)

    def close(self) -> dict:
        try:
            self._handle.close()
            fs.replace(self._temporary, self.path)
        except OSError as error:
            raise BertprepError(describe_os_error(error, self.path)) from None
        return {"path": self.path, "records": self.records, "bytes": self.bytes}

    def abort(self) -> None:
        """Remove the temporary. Runs while another error is on its way up, so it never raises: closing a
        file on a full disk fails again (the buffered bytes), and that second error used to replace the
        first, one-line one with a long traceback."""
        try:
            self._handle.close()
        except OSError:
            pass
        try:
            fs.delete([self._temporary])
        except (OSError, BertprepError):
            pass  # a leftover temporary is removed by the next run's prepare()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, traceback):
        if exc_type is None:
            self.result = self.close()
        else:
            self.abort()
        return False
