"""The run registry: one SQLite table of runs, which is also the queue the scheduler works from.

Schema (version 2), table `runs`, one row per run attempt:

    run_id            TEXT PRIMARY KEY   sortable: 20250101T020000Z-1a2b3c
    job               TEXT               job name from the jobs file
    pipeline          TEXT               the pipeline command (pretraining, mask-probs, ...)
    status            TEXT               queued | running | succeeded | failed | skipped | interrupted
    trigger           TEXT               schedule | api | cli | retry | after:<job>
    attempt           INTEGER            1 for a first try, 2.. for automatic retries
    retry_of          TEXT               the run this one retries, if any
    force             INTEGER            1: run even when inputs and parameters are unchanged
    spec              TEXT (JSON)        the job definition the run executes (so retries need no jobs file)
    parameters        TEXT (JSON)        the resolved arguments and the full command line
    parameters_hash   TEXT               sha256 of the resolved arguments and runner options
    input_fingerprint TEXT (JSON)        the matched input files with sizes and mtimes, or content hashes
    fingerprint_hash  TEXT               sha256 of the fingerprint
    output_path       TEXT               <output_root>/<job>/<run_id>
    published         INTEGER            1 once LATEST named this run
    counters          TEXT (JSON)        the pipeline's counts from info.json (read, written, dead letters...)
    error             TEXT               why a run failed, was skipped or was interrupted
    queued_at, not_before, started_at, ended_at   REAL  seconds since the epoch (UTC)
    pid               INTEGER            the pipeline subprocess while running
    owner             TEXT               host:pid-namespace:pid:random of the process that claimed the run
    log_path          TEXT               the run's combined stdout/stderr
    (table cron_slots, version 2: job, slot, run_id — each scheduled time of a job, taken once by whichever
    scheduler sharing the registry queues it first)
    lease_expires     REAL               (version 2) the owner's lease on a running run: renewed by its
                                         heartbeat while the run lives; once it has passed, any scheduler
                                         takes the run over (NULL: claimed by an older version, expired)

Every operation opens its own connection (WAL mode, busy timeout), so the scheduler's threads, the
HTTP API and `bertprep runs` can share one file. Claiming a queued run is one IMMEDIATE transaction
that also checks no run of the same job is running: two runs of a job never overlap, even across
processes. A running run belongs to the process whose lease on it is current (`lease_expires`), not
to a host name and PID: a container restarted with a new host name, or with `serve` as PID 1 again,
cannot pass for the old owner, and any scheduler takes over a run whose lease has expired
(`take_over`, conditional on the lease it saw, so two schedulers never both do). Any SQLite failure
(locked past the busy timeout, a corrupted file) surfaces as one `RegistryError` line naming the file;
callers decide whether to retry.
"""
import contextlib
import json
import os
import socket
import sqlite3
import time
import uuid
from typing import Dict, Iterable, List, Optional

from bertprep.errors import BertprepError

SCHEMA_VERSION = 2
STATUSES = ("queued", "running", "succeeded", "failed", "skipped", "interrupted")
FINISHED = ("succeeded", "failed", "skipped", "interrupted")
JSON_COLUMNS = ("spec", "parameters", "input_fingerprint", "counters")

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    job TEXT NOT NULL,
    pipeline TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued','running','succeeded','failed','skipped','interrupted')),
    trigger TEXT NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 1,
    retry_of TEXT,
    force INTEGER NOT NULL DEFAULT 0,
    spec TEXT NOT NULL,
    parameters TEXT,
    parameters_hash TEXT,
    input_fingerprint TEXT,
    fingerprint_hash TEXT,
    output_path TEXT,
    published INTEGER NOT NULL DEFAULT 0,
    counters TEXT,
    error TEXT,
    queued_at REAL NOT NULL,
    not_before REAL NOT NULL,
    started_at REAL,
    ended_at REAL,
    pid INTEGER,
    owner TEXT,
    log_path TEXT,
    lease_expires REAL
);
CREATE INDEX IF NOT EXISTS runs_by_job ON runs (job, queued_at);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status, not_before);
CREATE TABLE IF NOT EXISTS registry_info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cron_slots (job TEXT NOT NULL, slot TEXT NOT NULL, run_id TEXT,
                                       PRIMARY KEY (job, slot));
"""


DEFAULT_BUSY_TIMEOUT_SECONDS = 30.0


class RegistryError(BertprepError):
    """An SQLite failure: `reason` is SQLite's own words, without the file's path (for HTTP answers)."""

    def __init__(self, path: str, reason: str):
        super().__init__("run registry %s: %s" % (path, reason))
        self.reason = reason


class RunNotFound(BertprepError):
    pass


def new_run_id(now: float) -> str:
    """Time-sortable and unique: 20250101T020000Z-1a2b3c."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now)) + "-" + uuid.uuid4().hex[:6]


def process_owner() -> str:
    """host:pid-namespace:pid:random. The random part makes the id unique to this process's life: a
    restarted container may have the old host name and PID (serve is PID 1 again) but never the old id."""
    return "%s:%s:%d:%s" % (socket.gethostname(), pid_namespace(), os.getpid(), uuid.uuid4().hex[:8])


def pid_namespace() -> str:
    """The inode of this process's PID namespace: a PID means something only within its namespace."""
    try:
        return os.readlink("/proc/self/ns/pid").strip("pid:[]")
    except OSError:
        return "-"


class Registry:
    def __init__(self, path: str, busy_timeout_seconds: float = DEFAULT_BUSY_TIMEOUT_SECONDS):
        self.path = path
        self.busy_timeout_seconds = busy_timeout_seconds
        directory = os.path.dirname(os.path.abspath(path))
        try:
            os.makedirs(directory, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=busy_timeout_seconds)
            try:
                connection.execute("PRAGMA journal_mode=WAL")
                connection.executescript(SCHEMA)
                columns = {row[1] for row in connection.execute("PRAGMA table_info(runs)")}
                if "lease_expires" not in columns:  # a version 1 registry: its running runs have no lease
                    try:
                        connection.execute("ALTER TABLE runs ADD COLUMN lease_expires REAL")
                    except sqlite3.OperationalError as error:  # another process upgraded it just now
                        if "duplicate column" not in str(error):
                            raise
                connection.execute("INSERT OR REPLACE INTO registry_info VALUES ('schema_version', ?)",
                                   (str(SCHEMA_VERSION),))
                connection.commit()
            finally:
                connection.close()
        except (OSError, sqlite3.Error) as error:
            raise BertprepError("cannot open run registry %s: %s" % (path, error)) from None

    @contextlib.contextmanager
    def _connect(self, immediate: bool = False):
        """One transaction; SQLite errors, in it or around it, become one RegistryError line."""
        try:
            connection = sqlite3.connect(self.path, timeout=self.busy_timeout_seconds, isolation_level=None)
        except sqlite3.Error as error:
            raise RegistryError(self.path, str(error)) from error
        connection.row_factory = sqlite3.Row
        try:
            connection.execute("PRAGMA busy_timeout=%d" % int(self.busy_timeout_seconds * 1000))
            connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
            try:
                yield connection
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        except sqlite3.Error as error:
            raise RegistryError(self.path, str(error)) from error
        finally:
            connection.close()

    # --- writing -------------------------------------------------------------------------------

    def enqueue(self, spec: dict, trigger: str, now: float, not_before: Optional[float] = None, attempt: int = 1,
                retry_of: Optional[str] = None, force: bool = False, coalesce: bool = False,
                slot: Optional[str] = None) -> Optional[str]:
        """Add a queued run; with `coalesce`, return None instead when the job already has one queued; with a
        cron `slot`, return None when a scheduler sharing this registry already took that slot of the job."""
        run_id = new_run_id(now)
        with self._connect(immediate=True) as connection:
            if slot is not None:
                taken = connection.execute("INSERT OR IGNORE INTO cron_slots (job, slot, run_id) VALUES (?, ?, ?)",
                                           (spec["name"], slot, run_id))
                if taken.rowcount == 0:
                    return None
            if coalesce:
                waiting = connection.execute("SELECT run_id FROM runs WHERE job = ? AND status = 'queued'",
                                             (spec["name"],)).fetchone()
                if waiting:
                    return None
            connection.execute(
                "INSERT INTO runs (run_id, job, pipeline, status, trigger, attempt, retry_of, force, spec, "
                "queued_at, not_before) VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?)",
                (run_id, spec["name"], spec["pipeline"], trigger, attempt, retry_of, int(bool(force)),
                 json.dumps(spec, sort_keys=True, default=str), now, now if not_before is None else not_before))
        return run_id

    def claim_next(self, now: float, owner: str, busy_jobs: Iterable[str] = (),
                   lease_seconds: Optional[float] = None) -> Optional[dict]:
        """Mark the oldest due queued run `running` (leased to `owner` for `lease_seconds`) and return it,
        skipping jobs with a running run."""
        lease = None if lease_seconds is None else now + lease_seconds
        busy = set(busy_jobs)
        with self._connect(immediate=True) as connection:
            running = {row["job"] for row in connection.execute("SELECT job FROM runs WHERE status = 'running'")}
            rows = connection.execute("SELECT * FROM runs WHERE status = 'queued' AND not_before <= ? "
                                      "ORDER BY not_before, queued_at, rowid", (now,)).fetchall()
            for row in rows:
                if row["job"] in running or row["job"] in busy:
                    continue
                connection.execute("UPDATE runs SET status = 'running', started_at = ?, owner = ?, lease_expires = ? "
                                   "WHERE run_id = ? AND status = 'queued'", (now, owner, lease, row["run_id"]))
                claimed = dict(row)
                claimed.update(status="running", started_at=now, owner=owner, lease_expires=lease)
                return _decode(claimed)
        return None

    def claim(self, run_id: str, now: float, owner: str, lease_seconds: Optional[float] = None) -> dict:
        """Mark one queued run `running` (for `bertprep runs retry --now`); error if its job is busy."""
        lease = None if lease_seconds is None else now + lease_seconds
        with self._connect(immediate=True) as connection:
            row = connection.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None or row["status"] != "queued":
                raise BertprepError("run %s is not queued" % run_id)
            busy = connection.execute("SELECT run_id FROM runs WHERE job = ? AND status = 'running'",
                                      (row["job"],)).fetchone()
            if busy:
                raise BertprepError("job %s is already running (run %s)" % (row["job"], busy["run_id"]))
            connection.execute("UPDATE runs SET status = 'running', started_at = ?, owner = ?, lease_expires = ? "
                               "WHERE run_id = ?", (now, owner, lease, run_id))
            claimed = dict(row)
        claimed.update(status="running", started_at=now, owner=owner, lease_expires=lease)
        return _decode(claimed)

    def update(self, run_id: str, **fields) -> None:
        if not fields:
            return
        for name in fields:
            if name not in _COLUMNS:
                raise ValueError("unknown run column %s" % name)
        if "status" in fields and fields["status"] not in STATUSES:
            raise ValueError("unknown status %s" % fields["status"])
        values = [json.dumps(value, sort_keys=True, default=str) if name in JSON_COLUMNS and value is not None
                  else value for name, value in fields.items()]
        with self._connect() as connection:
            connection.execute("UPDATE runs SET %s WHERE run_id = ?" % ", ".join("%s = ?" % name for name in fields),
                               values + [run_id])

    def finish(self, run_id: str, status: str, now: float, **fields) -> None:
        if status not in FINISHED:
            raise ValueError("not a finished status: %s" % status)
        self.update(run_id, status=status, ended_at=now, pid=None, **fields)

    def renew_lease(self, run_id: str, owner: str, until: float) -> bool:
        """The owner's heartbeat: extend its lease on a running run; False when the run is no longer its own."""
        with self._connect() as connection:
            cursor = connection.execute("UPDATE runs SET lease_expires = ? WHERE run_id = ? AND owner = ? "
                                        "AND status = 'running'", (until, run_id, owner))
            return cursor.rowcount == 1

    def expired_leases(self, now: float) -> List[dict]:
        """Running runs whose owner's lease has passed (or that a version without leases left running)."""
        with self._connect() as connection:
            rows = connection.execute("SELECT * FROM runs WHERE status = 'running' AND "
                                      "(lease_expires IS NULL OR lease_expires < ?) ORDER BY queued_at", (now,))
            return [_decode(dict(row)) for row in rows]

    def take_over(self, run: dict, status: str, now: float, **fields) -> bool:
        """Finish a run whose lease expired, only if it is still running under the lease `run` was read
        with: of two schedulers taking over the same run, one succeeds, and a heartbeat that came back in
        between keeps the run with its owner."""
        if status not in FINISHED:
            raise ValueError("not a finished status: %s" % status)
        fields.update(status=status, ended_at=now, pid=None)
        for name in fields:
            if name not in _COLUMNS:
                raise ValueError("unknown run column %s" % name)
        values = [json.dumps(value, sort_keys=True, default=str) if name in JSON_COLUMNS and value is not None
                  else value for name, value in fields.items()]
        with self._connect(immediate=True) as connection:
            cursor = connection.execute(
                "UPDATE runs SET %s WHERE run_id = ? AND status = 'running' AND owner IS ? AND lease_expires IS ?"
                % ", ".join("%s = ?" % name for name in fields),
                values + [run["run_id"], run.get("owner"), run.get("lease_expires")])
            return cursor.rowcount == 1

    def delete(self, run_ids: Iterable[str]) -> None:
        with self._connect() as connection:
            connection.executemany("DELETE FROM runs WHERE run_id = ?", [(run_id,) for run_id in run_ids])

    # --- reading -------------------------------------------------------------------------------

    def get(self, run_id: str, prefix: bool = False) -> dict:
        """The run with exactly this id; with `prefix`, also the one run whose id starts with it (as with git
        hashes). Compared as text, never as a LIKE pattern: `_` and `%` match only themselves."""
        with self._connect() as connection:
            row = connection.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None and prefix and run_id:
                rows = connection.execute("SELECT * FROM runs WHERE substr(run_id, 1, ?) = ? LIMIT 2",
                                          (len(run_id), run_id)).fetchall()
                row = rows[0] if len(rows) == 1 else None
        if row is None:
            raise RunNotFound("no run %s in %s" % (run_id, self.path))
        return _decode(dict(row))

    def list(self, job: Optional[str] = None, status: Optional[str] = None, limit: Optional[int] = None) -> List[dict]:
        """Newest first."""
        query, values = "SELECT * FROM runs", []
        conditions = []
        if job:
            conditions.append("job = ?")
            values.append(job)
        if status:
            conditions.append("status = ?")
            values.append(status)
        if conditions:
            query += " WHERE " + " AND ".join(conditions)
        query += " ORDER BY queued_at DESC, rowid DESC"
        if limit:
            query += " LIMIT %d" % int(limit)
        with self._connect() as connection:
            return [_decode(dict(row)) for row in connection.execute(query, values)]

    def last_succeeded(self, job: str) -> Optional[dict]:
        with self._connect() as connection:
            row = connection.execute("SELECT * FROM runs WHERE job = ? AND status = 'succeeded' "
                                     "ORDER BY ended_at DESC, rowid DESC LIMIT 1", (job,)).fetchone()
        return _decode(dict(row)) if row else None

    def running(self) -> List[dict]:
        return self.list(status="running")

    def counts_by_status(self) -> Dict[str, int]:
        with self._connect() as connection:
            return {row[0]: row[1] for row in connection.execute("SELECT status, COUNT(*) FROM runs GROUP BY status")}


_COLUMNS = {"run_id", "job", "pipeline", "status", "trigger", "attempt", "retry_of", "force", "spec", "parameters",
            "parameters_hash", "input_fingerprint", "fingerprint_hash", "output_path", "published", "counters",
            "error", "queued_at", "not_before", "started_at", "ended_at", "pid", "owner", "log_path", "lease_expires"}


def _decode(row: dict) -> dict:
    for name in JSON_COLUMNS:
        if row.get(name):
            row[name] = json.loads(row[name])
    row["force"] = bool(row.get("force"))
    row["published"] = bool(row.get("published"))
    return row


def iso_time(seconds: Optional[float]) -> Optional[str]:
    if seconds is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def public_view(run: dict, with_spec: bool = False) -> dict:
    """A run as the API and `bertprep runs` show it: ISO times, duration, no internal columns."""
    view = {key: value for key, value in run.items()
            if key not in ("spec", "owner", "force", "not_before", "lease_expires")}
    for key in ("queued_at", "started_at", "ended_at"):
        view[key] = iso_time(run.get(key))
    if run.get("not_before") and run.get("status") == "queued" and run["not_before"] > run["queued_at"]:
        view["not_before"] = iso_time(run["not_before"])
    view["forced"] = bool(run.get("force"))
    started, ended = run.get("started_at"), run.get("ended_at")
    view["duration_seconds"] = round(ended - started, 3) if started is not None and ended is not None else None
    if with_spec:
        view["spec"] = run.get("spec")
    return view
