"""Taking over runs whose owner died: the other half of run ownership by lease (see registry.py).

A scheduler calls `recover_expired_runs` at every tick. A run whose owner's lease expired (a crash, a
container restarted under a new host name or with `serve` as PID 1 again, a lost host) is finished by
whichever scheduler sees it first: `succeeded` when LATEST already names it, else `interrupted` (and
`Scheduler.recover` queues its retry). The registry's `take_over` is conditional on the lease the
scheduler read, so of two schedulers one wins and a heartbeat that came back in between keeps the run.
"""
import os
import signal
import socket
from typing import Optional

from bertprep.service.run_registry import Registry, pid_namespace
from bertprep.service.run_process import counters_from_info, is_complete, is_published, read_info


def recover_expired_runs(registry: Registry, clock, owner: Optional[str] = None) -> list:
    """Take over running runs whose owner's lease expired (the owner died: a crash, a restarted container,
    a lost host); returns their run ids. A run LATEST already names ends `succeeded` (its owner published
    but died before recording); any other ends `interrupted` and `Scheduler.recover` queues its retry.
    Runs of `owner` (this process) are left alone: they are alive here, their heartbeat only delayed.

    An owner on this host, in this PID namespace, whose process is gone is taken over at once, without
    waiting for its lease (a scheduler restarted on the same machine). If the orphaned pipeline process is
    still alive here (its command line names the run), it is stopped: its output was never published.
    """
    recovered = []
    now = clock.time()
    for run in registry.expired_leases(now) + _dead_local_owners(registry, owner):
        if run.get("owner") == owner:
            continue
        if run.get("output_path") and is_published(run) and is_complete(run["output_path"]):
            status, fields = "succeeded", {
                "published": 1, "counters": counters_from_info(read_info(run["output_path"])),
                "error": "recorded after its owner %s stopped: LATEST names this run" % run.get("owner")}
        else:
            if run.get("pid") and _alive(run["pid"]) and _cmdline_mentions(run["pid"], run["run_id"]):
                try:
                    os.killpg(run["pid"], signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            status, fields = "interrupted", {
                "error": "its owner %s stopped renewing its lease (crashed, killed or restarted); nothing was "
                         "published" % run.get("owner")}
        if registry.take_over(run, status, now, **fields) and run["run_id"] not in recovered:
            recovered.append(run["run_id"])
    return recovered


def _dead_local_owners(registry: Registry, owner: Optional[str]) -> list:
    """Running runs whose owner ran on this host and in this PID namespace and whose process is gone."""
    here = (socket.gethostname(), pid_namespace())
    found = []
    for run in registry.running():
        parts = (run.get("owner") or "").split(":")
        if run.get("owner") == owner or len(parts) != 4 or (parts[0], parts[1]) != here or not parts[2].isdigit():
            continue
        if not _alive(int(parts[2])):
            found.append(run)
    return found


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (an unreaped dead process)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _cmdline_mentions(pid: int, text: str) -> bool:
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            return text.encode("utf-8") in handle.read()
    except OSError:
        return False
