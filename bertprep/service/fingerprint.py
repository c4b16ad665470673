"""What a run's inputs looked like, so an unchanged input can be skipped.

A fingerprint lists every matched file with its size and modification time (cheap), or with a
SHA-256 of its content when `content_hash` is set (exact: a file rewritten with the same bytes
stays unchanged). Directories are walked (an upstream job's output directory is an input too).
Every path goes through `bertprep.io.fs` (local or gs://).

Every argument naming an existing file counts (vocabularies, tables, models), whether or not the job
lists its `inputs:` explicitly. The code counts too (`tool_fingerprint`): the bertprep version and a
hash of the installed package's files, and of the job's own modules when they live outside it
(BERTPREP_EXTRA_PIPELINES), so an upgrade or a fix reruns instead of keeping the old output as good.
"""
import hashlib
import json
import os
from typing import Dict, Iterable, List

from bertprep.errors import BertprepError
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
    patterns = list(explicit)
    for key, value in args.items():
        name = str(key).replace("-", "_")
        if name in NOT_FILES or isinstance(value, bool) or value is None:
            continue
        if explicit and name == "input":  # `inputs:` stands for the input; the other paths still count
            continue
        values = value if isinstance(value, list) else [value]
        for item in values:
            if not isinstance(item, str):
                continue
            for part in [p for p in item.split(",") if p] if name == "input" else [item]:
                part = _absolute(part, base_dir)
                if (name == "input" or _matches_something(part)) and part not in patterns:
                    patterns.append(part)
    return patterns


def tool_fingerprint(pipeline: str) -> dict:
    """{version, package_sha256, job_code_sha256}: what the run's code was. The package hash covers
    every file of the installed bertprep package (not caches); the job's hash covers the modules of its
    options class and graph when they are outside the package (a deployment's own job)."""
    import bertprep

    package_dir = os.path.dirname(os.path.abspath(bertprep.__file__))
    job_files = []
    try:
        from bertprep.pipelines import registry

        entry = registry.pipeline(pipeline)
        for target in (entry.options, entry.plan, entry.build or entry.run):
            origin = _module_file(target.split(":")[0])
            if origin and not origin.startswith(package_dir + os.sep) and origin not in job_files:
                job_files.append(origin)
    except BertprepError:
        pass
    return {"version": bertprep.__version__, "package_sha256": _tree_sha256(package_dir),
            "job_code_sha256": _files_sha256(sorted(job_files)) if job_files else None}


def _module_file(module: str):
    """The module's source file, found without importing it (a graph module imports Beam)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    return os.path.abspath(spec.origin) if spec is not None and spec.origin else None


def _tree_sha256(directory: str) -> str:
    paths = []
    for root, dirs, names in os.walk(directory):
        dirs[:] = sorted(name for name in dirs if name != "__pycache__")
        paths.extend(os.path.join(root, name) for name in sorted(names) if not name.endswith((".pyc", ".pyo")))
    return _files_sha256(paths, relative_to=directory)


def _files_sha256(paths: List[str], relative_to: str = "") -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update((os.path.relpath(path, relative_to) if relative_to else path).encode("utf-8") + b"\0")
        digest.update(_sha256(path).encode("ascii"))
    return digest.hexdigest()


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


def _sha256(path: str) -> str:
    return fs.sha256(path, HASH_CHUNK)
