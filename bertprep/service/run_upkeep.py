"""Upkeep of the run registry's runs: retry one, choose the runs to prune and delete their files.

`bertprep runs retry|prune` calls these (the command only parses and prints), as the API could.
"""
import os
from typing import Dict, List, Optional, Tuple

from bertprep.errors import BertprepError
from bertprep.io import fs


def enqueue_retry(registry, run_id: str, clock) -> Tuple[dict, str]:
    """Queue a new run with the same job definition as the finished run `run_id` (a unique prefix is
    enough); (the original run, the new run's id)."""
    original = registry.get(run_id, prefix=True)
    if original["status"] in ("queued", "running"):
        raise BertprepError("run %s is %s; retry a finished run" % (original["run_id"], original["status"]))
    return original, registry.enqueue(original["spec"], "retry", clock.time(), retry_of=original["run_id"],
                                       force=True)


def run_now(registry, original: dict, run_id: str, clock) -> Tuple[str, dict]:
    """Run the queued `run_id` in this process, where `original` ran; (its status, its registry row)."""
    from bertprep.service.run_process import Runner
    from bertprep.service.run_registry import process_owner

    output_root, logs_dir = run_roots(original, registry.path)
    runner = Runner(registry, output_root, logs_dir, clock)
    status = runner.execute(registry.claim(run_id, clock.time(), process_owner(),
                                           lease_seconds=runner.lease_seconds))
    return status, registry.get(run_id)


def run_roots(run: dict, registry_path: str) -> Tuple[str, str]:
    """The output root and log directory the original run used (<root>/<job>/<run_id>)."""
    if not run.get("output_path"):
        raise BertprepError("run %s never started, so its output root is unknown; let the scheduler run the retry"
                            % run["run_id"])
    from bertprep.service.run_process import output_root_of

    output_root = output_root_of(run)
    logs_dir = os.path.dirname(os.path.dirname(run["log_path"])) if run.get("log_path") else \
        os.path.join(os.path.dirname(os.path.abspath(registry_path)), "bertprep-logs")
    return output_root, logs_dir


def runs_to_prune(runs: List[dict], keep: int) -> List[dict]:
    """Of `runs` (newest first), those past the newest `keep` finished ones of each job; queued and running
    runs, and the run LATEST names, always stay."""
    from bertprep.service import run_process

    if keep < 0:
        raise BertprepError("--keep must be 0 or more")
    by_job: Dict[str, List[dict]] = {}
    for run in runs:  # newest first
        by_job.setdefault(run["job"], []).append(run)
    doomed = []
    for job, job_runs in sorted(by_job.items()):
        kept = 0
        for run in job_runs:
            if run["status"] in ("queued", "running"):
                continue
            if kept < keep:
                kept += 1
                continue
            if run_process.is_published(run):  # LATEST's run stays, whatever --keep says
                continue
            doomed.append(run)
    return doomed


def not_prunable(run: dict) -> Optional[str]:
    """Why a run's files may not be deleted, or None: its output must be the directory <root>/<job>/<run_id>
    itself (not a symlink to somewhere else) and its log a plain file."""
    path = run.get("output_path")
    if path and not fs.is_remote(path):
        if os.path.islink(path.rstrip("/")):
            return "its output %s is a symbolic link (to %s), not the run's own directory" % (
                path, os.path.realpath(path))
        if os.path.lexists(path) and not os.path.isdir(path):
            return "its output %s is not a directory" % path
        if os.path.isdir(path):
            for parent in (os.path.dirname(path.rstrip("/")), os.path.dirname(os.path.dirname(path.rstrip("/")))):
                if os.path.islink(parent):
                    return "%s, above its output, is a symbolic link" % parent
    if path and not path.rstrip("/").endswith("/" + run["run_id"]):
        return "its output %s is not named after the run" % path
    log = run.get("log_path")
    if log and os.path.islink(log):
        return "its log %s is a symbolic link" % log
    return None


def delete_run_files(run: dict) -> None:
    """The run's output directory (only when it is the run's own <root>/<job>/<run_id>) and its log."""
    path = run.get("output_path")
    if path and path.rstrip("/").endswith(run["run_id"]):
        fs.delete_tree(path)  # local or gs:// (every object under the run's prefix)
    log = run.get("log_path")
    if log:
        fs.delete([log])
