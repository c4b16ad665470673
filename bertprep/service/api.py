"""The HTTP API behind `bertprep serve` (FastAPI; uvicorn serves it).

    GET  /health                 liveness, version, run counts by status
    GET  /jobs                   the jobs file's jobs with next scheduled time, LATEST run and last run
    POST /jobs/{job}/trigger     queue a run now (202); needs the token; body {"force": true} optional
    GET  /runs?job=&status=&limit=   runs, newest first
    GET  /runs/{run_id}          one run with its counters, report and log tail

The trigger endpoint needs `Authorization: Bearer <token>` (or `X-Bertprep-Token: <token>`) where the
token is the value of an environment variable of the server (BERTPREP_API_TOKEN by default). Without
a matching token, or when the server has no token configured, it answers 401: triggering is never
open by accident. Reading endpoints are unauthenticated; bind to loopback or put them behind a proxy.
"""
import hmac
import os
from typing import Optional

from fastapi import Body, Depends, FastAPI, Header, HTTPException, Query
from fastapi.responses import JSONResponse

from bertprep import __version__
from bertprep.errors import BertprepError
from bertprep.service import runner as runner_lib
from bertprep.service.jobs_file import JobsConfig
from bertprep.service.registry import STATUSES, Registry, iso_time, public_view

TOKEN_ENV = "BERTPREP_API_TOKEN"
LOG_TAIL_LINES = 40


def create_app(config: JobsConfig, registry: Optional[Registry] = None, scheduler=None,
               token_env: str = TOKEN_ENV, clock=None) -> FastAPI:
    """The app; with a `scheduler` (same process) triggers wake it so the run starts at once."""
    from bertprep.service.clock import SystemClock

    registry = registry or Registry(config.registry)
    clock = clock or (scheduler.clock if scheduler is not None else SystemClock())
    expected_token = os.environ.get(token_env) or None
    app = FastAPI(title="bertprep", version=__version__,
                  description="Scheduled bertprep pipeline runs: jobs, runs, triggers.")

    def require_token(authorization: Optional[str] = Header(default=None),
                      x_bertprep_token: Optional[str] = Header(default=None)) -> None:
        given = x_bertprep_token
        if authorization and authorization.lower().startswith("bearer "):
            given = authorization[7:].strip()
        if expected_token is None:
            raise HTTPException(401, detail="triggering is disabled: the server has no %s set" % token_env,
                                headers={"WWW-Authenticate": "Bearer"})
        if not given or not hmac.compare_digest(given.encode("utf-8"), expected_token.encode("utf-8")):
            raise HTTPException(401, detail="missing or wrong token", headers={"WWW-Authenticate": "Bearer"})

    @app.get("/health")
    def health():
        return {"status": "ok", "version": __version__, "jobs": len(config.jobs), "registry": registry.path,
                "scheduler": "running" if scheduler is not None and not scheduler.stopping else "off",
                "runs": registry.counts_by_status()}

    @app.get("/jobs")
    def list_jobs():
        next_times = scheduler.next_fire_times() if scheduler is not None else {}
        jobs = []
        for spec in config.jobs.values():
            last = registry.list(job=spec.name, limit=1)
            jobs.append({
                "name": spec.name, "pipeline": spec.pipeline, "description": spec.description,
                "schedule": spec.schedule, "timezone": spec.timezone, "after": spec.after, "enabled": spec.enabled,
                "retries": spec.retries,
                "next_run": next_times[spec.name].isoformat() if spec.name in next_times else None,
                "latest": runner_lib.read_latest(spec.output_root or config.output_root, spec.name),
                "last_run": {"run_id": last[0]["run_id"], "status": last[0]["status"],
                             "ended_at": iso_time(last[0]["ended_at"])} if last else None,
            })
        return {"jobs": jobs}

    @app.post("/jobs/{job}/trigger", status_code=202, dependencies=[Depends(require_token)])
    def trigger(job: str, body: Optional[dict] = Body(default=None)):
        if job not in config.jobs:
            raise HTTPException(404, detail="no job named %r" % job)
        force = bool((body or {}).get("force", False))
        run_id = registry.enqueue(config.jobs[job].to_json(), "api", clock.time(), force=force)
        if scheduler is not None:
            scheduler.wake()
        return {"run_id": run_id, "job": job, "status": "queued", "force": force,
                "run_url": "/runs/%s" % run_id}

    @app.get("/runs")
    def list_runs(job: Optional[str] = None, status: Optional[str] = None,
                  limit: int = Query(default=50, ge=1, le=1000)):
        if status is not None and status not in STATUSES:
            raise HTTPException(422, detail="status must be one of %s" % ", ".join(STATUSES))
        return {"runs": [public_view(run) for run in registry.list(job=job, status=status, limit=limit)]}

    @app.get("/runs/{run_id}")
    def show_run(run_id: str):
        try:
            run = registry.get(run_id)
        except BertprepError as error:
            raise HTTPException(404, detail=str(error)) from None
        view = public_view(run, with_spec=True)
        view["report"] = runner_lib.read_report(run["output_path"]) if run.get("output_path") else None
        view["log_tail"] = log_tail(run.get("log_path"))
        view["is_latest"] = runner_lib.is_published(run)
        return view

    @app.exception_handler(BertprepError)
    def bertprep_error(_, error: BertprepError):
        return JSONResponse(status_code=400, content={"detail": str(error)})

    return app


def log_tail(path: Optional[str], lines: int = LOG_TAIL_LINES) -> Optional[str]:
    if not path or not os.path.exists(path):
        return None
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        handle.seek(max(0, handle.tell() - 32 * 1024))
        text = handle.read().decode("utf-8", "replace")
    return "\n".join(text.splitlines()[-lines:])
