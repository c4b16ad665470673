"""The HTTP API behind `bertprep serve` (FastAPI; uvicorn serves it).

    GET  /health                 the scheduler loop's real state, last successful tick, run counts; 503 when
                                 the scheduler is dead or stalled, the registry cannot be read, or a run
                                 whose owner's lease expired was not taken over (`stuck_runs`)
    GET  /jobs                   the jobs file's jobs with next scheduled time, LATEST run and last run
    POST /jobs/{job}/trigger     queue a run now (202); needs the token; body {"force": true} optional;
                                 409 for a job with `enabled: false`
    GET  /runs?job=&status=&limit=   runs, newest first
    GET  /runs/{run_id}          one run with its counters, report and log tail

The trigger endpoint needs `Authorization: Bearer <token>` (or `X-Bertprep-Token: <token>`) where the
token is the value of an environment variable of the server (BERTPREP_API_TOKEN by default). Without
a matching token, or when the server has no token configured, it answers 401: triggering is never
open by accident. The token is checked before any of the body is read, and no request body may be
larger than MAX_BODY_BYTES (413): an unauthenticated client cannot make the server buffer anything.
Reading endpoints are unauthenticated; bind to loopback or put them behind a proxy. `serve` answers
only Host headers naming its bind address (HostCheck: a DNS-rebinding page cannot read the API through a
browser), and /docs and /openapi.json are off unless asked for, and then need the token.
"""
import hmac
import json
import os
from typing import Optional

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from bertprep import __version__
from bertprep.errors import BertprepError, StorageUnavailable
from bertprep.service import run_process
from bertprep.service.jobs_file import JobsConfig
from bertprep.service.run_registry import STATUSES, Registry, RegistryError, RunNotFound, iso_time, public_view

TOKEN_ENV = "BERTPREP_API_TOKEN"
LOG_TAIL_LINES = 40
MAX_BODY_BYTES = 1 << 20  # a trigger body is a few bytes; 1 MiB leaves room and bounds what a client can send
TRIGGER_FIELDS = ("force",)


class BodyLimit:
    """ASGI middleware: 413 for a declared Content-Length over the limit (before reading a byte), and for a
    streamed (chunked) body as soon as what was read passes the limit."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and (not declared.strip().isdigit() or int(declared) > self.max_bytes):
            response = JSONResponse(status_code=413, headers={"Connection": "close"},
                                    content={"detail": "request body over %d bytes" % self.max_bytes})
            return await response(scope, receive, send)
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, detail="request body over %d bytes" % self.max_bytes)
            return message

        return await self.app(scope, limited_receive, send)


def trigger_options(body: bytes) -> dict:
    """The trigger body: nothing, or a JSON object whose only field is `force`, a JSON boolean.

    Why strict: `{"force": "false"}` used to queue a forced run (a non-empty string is truthy).
    """
    if not body.strip():
        return {"force": False}
    try:
        data = json.loads(body)
    except ValueError:
        raise HTTPException(422, detail="the body must be a JSON object such as {\"force\": true}") from None
    if not isinstance(data, dict):
        raise HTTPException(422, detail="the body must be a JSON object such as {\"force\": true}")
    unknown = sorted(set(data) - set(TRIGGER_FIELDS))
    if unknown:
        raise HTTPException(422, detail="unknown field(s) %s (known: %s)" % (", ".join(unknown),
                                                                           ", ".join(TRIGGER_FIELDS)))
    force = data.get("force", False)
    if not isinstance(force, bool):
        raise HTTPException(422, detail="force must be a JSON boolean (true or false), got %s" % json.dumps(force))
    return {"force": force}


class HostCheck:
    """ASGI middleware: 421 for a request whose Host header is not one this server answers to (a page
    that rebinds its DNS name to 127.0.0.1 sends its own name), before anything else runs."""

    def __init__(self, app, allowed):
        self.app = app
        self.allowed = list(allowed)

    async def __call__(self, scope, receive, send):
        from bertprep.service.http_server import host_allowed

        if scope["type"] == "http":
            host = dict(scope.get("headers") or ()).get(b"host", b"").decode("latin-1")
            if not host_allowed(host, self.allowed):
                response = JSONResponse(status_code=421, content={
                    "detail": "this server does not answer to Host %r (see serve --allowed-host)" % host[:100]})
                return await response(scope, receive, send)
        return await self.app(scope, receive, send)


DOCS_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json")


def create_app(config: JobsConfig, registry: Optional[Registry] = None, scheduler=None,
               token_env: str = TOKEN_ENV, clock=None, stuck_after_seconds: Optional[float] = None,
               allowed_hosts=None, docs: bool = False) -> FastAPI:
    """The app; with a `scheduler` (same process) triggers wake it so the run starts at once.

    `stuck_after_seconds`: how long past its expiry a run's lease may stay untaken before /health says
    503 (default: one lease, time for a scheduler to tick and take it over). `allowed_hosts`: the Host
    header values answered (None: any; `serve` passes its bind address's). `docs`: serve /docs and
    /openapi.json, to clients with the token only; off by default (they list every endpoint)."""
    from bertprep.service.clock import SystemClock

    registry = registry or Registry(config.registry)
    clock = clock or (scheduler.clock if scheduler is not None else SystemClock())
    if stuck_after_seconds is None:
        stuck_after_seconds = scheduler.lease_seconds if scheduler is not None else run_process.LEASE_SECONDS
    expected_token = os.environ.get(token_env) or None
    app = FastAPI(title="bertprep", version=__version__,
                  description="Scheduled bertprep pipeline runs: jobs, runs, triggers.",
                  **({} if docs else {"docs_url": None, "redoc_url": None, "openapi_url": None}))
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)

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

    if docs:
        @app.middleware("http")
        async def docs_need_the_token(request: Request, call_next):
            if request.url.path in DOCS_PATHS:
                try:
                    require_token(request.headers.get("authorization"), request.headers.get("x-bertprep-token"))
                except HTTPException as error:
                    return JSONResponse(status_code=error.status_code, content={"detail": error.detail},
                                        headers=error.headers)
            return await call_next(request)

    if allowed_hosts is not None:
        app.add_middleware(HostCheck, allowed=allowed_hosts)  # added last: runs first

    @app.get("/health")
    def health():
        loop = scheduler.health() if scheduler is not None else {"state": "off", "healthy": True}
        body = {"status": "ok", "version": __version__, "jobs": len(config.jobs), "scheduler": loop["state"],
                "last_tick_at": loop.get("last_tick_at"),
                "seconds_since_last_tick": loop.get("seconds_since_last_tick"),
                "tick_failures": loop.get("tick_failures", 0), "last_tick_error": loop.get("last_error"),
                "runs": None, "registry_error": None, "stuck_runs": []}
        try:
            body["runs"] = registry.counts_by_status()
            # A long run keeps its lease renewed and stays healthy; a dead owner's run that no scheduler
            # took over within `stuck_after_seconds` of its lease's end is stuck.
            limit = clock.time() - stuck_after_seconds
            body["stuck_runs"] = [run["run_id"] for run in registry.expired_leases(clock.time())
                                  if run.get("lease_expires") is None or run["lease_expires"] < limit]
        except RegistryError as error:
            body["registry_error"] = error.reason
        healthy = loop["healthy"] and body["registry_error"] is None and not body["stuck_runs"]
        if not healthy:
            body["status"] = "unhealthy"
        return JSONResponse(status_code=200 if healthy else 503, content=body)

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
                "latest": _latest_or_why(spec.output_root or config.output_root, spec.name),
                "last_run": {"run_id": last[0]["run_id"], "status": last[0]["status"],
                             "ended_at": iso_time(last[0]["ended_at"])} if last else None,
            })
        return {"jobs": jobs}

    @app.post("/jobs/{job}/trigger", status_code=202, dependencies=[Depends(require_token)])
    async def trigger(job: str, request: Request):
        # The body is read here, after require_token: a request without the token is answered unread.
        force = trigger_options(await request.body())["force"]
        if job not in config.jobs:
            raise HTTPException(404, detail="no job named %r" % job)
        if not config.jobs[job].enabled:
            raise HTTPException(409, detail="job %r is disabled in the jobs file (enabled: false); enable it and "
                                "restart serve to run it" % job)
        run_id = await run_in_threadpool(registry.enqueue, config.jobs[job].to_json(), "api", clock.time(),
                                         force=force)
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
        except RunNotFound:  # the registry's own message names its file: not for HTTP clients
            raise HTTPException(404, detail="no run %r" % run_id) from None
        view = public_view(run, with_spec=True)
        view["log_tail"] = log_tail(run.get("log_path"))
        try:
            view["report"] = run_process.read_report(run["output_path"]) if run.get("output_path") else None
            view["is_latest"] = run_process.is_published(run)
        except StorageUnavailable as error:  # the run's own record still answers; say why the store does not
            view["report"] = view["is_latest"] = None
            view["storage_error"] = str(error)
        return view

    @app.exception_handler(BertprepError)
    def bertprep_error(_, error: BertprepError):
        return JSONResponse(status_code=400, content={"detail": str(error)})

    @app.exception_handler(StorageUnavailable)
    def storage_unavailable(_, error: StorageUnavailable):  # gs:// without credentials or network: one line
        return JSONResponse(status_code=503, content={"detail": str(error)})

    @app.exception_handler(RegistryError)
    def registry_error(_, error: RegistryError):
        return JSONResponse(status_code=503, content={"detail": "run registry unavailable: %s" % error.reason})

    return app


def _latest_or_why(output_root: str, job: str):
    """The run LATEST names, or why it cannot be read (a directory named LATEST): one job's problem, not
    the whole listing's."""
    try:
        return run_process.read_latest(output_root, job)
    except BertprepError as error:
        return {"error": str(error)}


def log_tail(path: Optional[str], lines: int = LOG_TAIL_LINES) -> Optional[str]:
    if not path or not os.path.exists(path):
        return None
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        handle.seek(max(0, handle.tell() - 32 * 1024))
        text = handle.read().decode("utf-8", "replace")
    return "\n".join(text.splitlines()[-lines:])
