"""What a run's inputs looked like, so an unchanged input can be skipped.

A fingerprint lists every matched file with its size and modification time (cheap), or with a
SHA-256 of its content when `content_hash` is set (exact: a file rewritten with the same bytes
stays unchanged). Directories are walked (an upstream job's output directory is an input too).
Every path goes through `bertprep.io.fs` (local or gs://).
"""
import hashlib
import json
import os
from typing import Dict, Iterable, List

from bertprep.io import fs

HASH_CHUNK = 1 << 20
# Options whose values are never files, even when a file of that name happens to exist.
NOT_FILES = {"seed", "workers", "num_shards", "compression", "runner", "lower", "strip_accents", "overwrite"}


def input_patterns(args: dict, inputs: Iterable[str] = (), base_dir: str = ".") -> List[str]:
    """The job's explicit `inputs`, or else every argument value that names existing files.

    `input` is always taken (a glob or comma-separated list); other arguments count when they match
    a file or directory (vocabularies, mask-probability tables, models).
    """
    explicit = [_absolute(pattern, base_dir) for pattern in inputs if pattern]
    if explicit:
        return explicit
    patterns = []
    for key, value in args.items():
        name = str(key).replace("-", "_")
        if name in NOT_FILES or isinstance(value, bool) or value is None:
            continue
        values = value if isinstance(value, list) else [value]
        for item in values:
            if not isinstance(item, str):
                continue
            for part in [p for p in item.split(",") if p] if name == "input" else [item]:
                part = _absolute(part, base_dir)
                if name == "input" or _matches_something(part):
                    patterns.append(part)
    return patterns


def _absolute(pattern: str, base_dir: str) -> str:
    if fs.is_remote(pattern):
        return pattern
    return os.path.normpath(os.path.join(base_dir, os.path.expanduser(pattern)))


def _matches_something(pattern: str) -> bool:
    if fs.is_remote(pattern):
        return pattern.startswith("gs://") and "/" in pattern[5:]
    return bool(fs.expand_files(pattern)) or fs.is_dir(os.path.expanduser(pattern))


def fingerprint(patterns: Iterable[str], content_hash: bool = False) -> dict:
    """{"patterns": [...], "mode": "stat"|"sha256", "files": [{path, size, mtime|sha256}]}, sorted."""
    files: Dict[str, dict] = {}
    for pattern in patterns:
        for entry in _expand(pattern):
            files[entry["path"]] = entry
    mode = "sha256" if content_hash else "stat"
    listed = []
    for path in sorted(files):
        entry = files[path]
        if content_hash:
            listed.append({"path": path, "size": entry["size"], "sha256": fs.sha256(path, HASH_CHUNK)})
        else:
            listed.append({"path": path, "size": entry["size"], "mtime": entry["mtime"]})
    return {"patterns": list(patterns), "mode": mode, "files": listed}


def fingerprint_hash(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def _expand(pattern: str) -> List[dict]:
    return fs.expand_files(pattern)
