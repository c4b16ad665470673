"""`bertprep serve --jobs jobs.yaml`: the HTTP API (FastAPI on uvicorn), with the scheduler in-process.

Endpoints: GET /health, GET /jobs, POST /jobs/{job}/trigger (token), GET /runs, GET /runs/{run_id}.
The trigger token is read from the environment variable named by --token-env (BERTPREP_API_TOKEN);
send it as `Authorization: Bearer <token>`. Without a token configured, triggers answer 401.
SIGTERM stops the server, then the scheduler shuts down as `bertprep scheduler run` does. Request bodies
over 1 MiB are refused (413); /health answers 503 while the scheduler loop is dead or stalled, or a run's
lease expired without a takeover. Slow clients: a request head must arrive within --header-timeout, idle
connections close after --idle-timeout, at most --max-connections are open (the slowest waiting one is
closed to make room), refusals are logged once per burst (bertprep/service/http_server.py). Only Host
headers naming the bind address are answered (--allowed-host adds names). /docs is off (--docs: with token).

The jobs file is read once, at start: to reload it, restart serve (SIGTERM: running pipelines get
--grace-seconds, and a run stopped then is retried after the restart; a crashed owner's run is taken
over when its lease expires).
"""
import argparse
import logging
import signal
import sys

COMMAND = "serve"
HELP = "serve the HTTP API (health, jobs, trigger, runs) and run the scheduler"
DESCRIPTION = __doc__


def add_arguments(parser):
    parser.add_argument("--jobs", required=True, help="the YAML jobs file")
    parser.add_argument("--registry", default=None, help="SQLite run registry (default: from the jobs file)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 in a container)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on")
    parser.add_argument("--token-env", default="BERTPREP_API_TOKEN", help="environment variable holding the "
                        "trigger token")
    parser.add_argument("--scheduler", action=argparse.BooleanOptionalAction, default=True,
                        help="also run the scheduler loop in this process (--no-scheduler: API only; triggered "
                        "runs then wait for a `bertprep scheduler run` sharing the registry)")
    parser.add_argument("--poll-seconds", type=float, default=5.0, help="scheduler loop interval")
    parser.add_argument("--grace-seconds", type=float, default=30.0, help="on shutdown, how long running "
                        "pipelines may take to finish before they are stopped and marked interrupted")
    from bertprep.commands.scheduler import add_lease_argument

    add_lease_argument(parser)
    parser.add_argument("--header-timeout", type=float, default=10.0, help="seconds a connection may take to send "
                        "a complete request head (slow clients are closed)")
    parser.add_argument("--idle-timeout", type=int, default=5, help="seconds an idle keep-alive connection stays "
                        "open")
    parser.add_argument("--max-connections", type=int, default=None, help="open connections at most (default "
                        "1000, and always below the open-file limit)")
    parser.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                        help="also answer requests whose Host header is NAME (repeatable; `*`: any), e.g. the "
                        "name a proxy or a Kubernetes service uses; by default only the bind address (and "
                        "localhost when bound to loopback, this machine's name and IP literals for 0.0.0.0)")
    parser.add_argument("--docs", action="store_true", help="serve /docs and /openapi.json (to clients sending "
                        "the token)")


def run(args) -> int:
    import uvicorn

    from bertprep.commands.scheduler import load_config
    from bertprep.service.api import create_app
    from bertprep.service.scheduler import Scheduler, log_to_stderr

    config = load_config(args)
    # Pipelines get the server's environment without the trigger token (see runner.pipeline_environment).
    scheduler = Scheduler(config, secret_env=(args.token_env,), lease_seconds=args.lease_seconds) \
        if args.scheduler else None
    from bertprep.errors import BertprepError
    from bertprep.service import http_server

    if not (0 < args.header_timeout <= 3600) or not (0 < args.idle_timeout <= 3600):
        raise BertprepError("--header-timeout and --idle-timeout must be between 0 and 3600 seconds")
    if args.max_connections is not None and args.max_connections < 1:
        raise BertprepError("--max-connections must be 1 or more")
    limits = http_server.Limits(args.header_timeout, http_server.connection_cap(
        args.max_connections, http_server.raise_open_file_limit()))
    app = create_app(config, registry=scheduler.registry if scheduler else None, scheduler=scheduler,
                     token_env=args.token_env, stuck_after_seconds=args.lease_seconds,
                     allowed_hosts=http_server.allowed_hosts(args.host, args.allowed_host), docs=args.docs)
    loop = None
    if scheduler is not None:
        log_to_stderr()
        loop = scheduler.start(poll_seconds=args.poll_seconds, grace_seconds=args.grace_seconds)
    http_server.limit_server_logs()
    server = uvicorn.Server(uvicorn.Config(app, host=args.host, port=args.port, log_level="warning",
                                           access_log=False, http=http_server.protocol_class(limits),
                                           timeout_keep_alive=args.idle_timeout,
                                           backlog=http_server.ACCEPT_BACKLOG))
    if not http_server.LOG.handlers:
        http_server.LOG.addHandler(logging.StreamHandler(sys.stderr))
        http_server.LOG.setLevel(logging.INFO)
    print("bertprep serve: http://%s:%d (jobs %s, registry %s, scheduler %s, at most %d connections)"
          % (args.host, args.port, config.path, config.registry, "on" if scheduler else "off",
             limits.max_connections), flush=True)
    received = []

    def on_signal(number, _frame):
        # uvicorn handles SIGTERM/SIGINT while serving and re-raises them once it has stopped; this
        # handler takes them then, so the scheduler below still shuts down gracefully.
        received.append(number)
        if scheduler is not None:
            if len(received) > 1:
                scheduler.interrupt_now()
            scheduler.request_stop()
        server.should_exit = True

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.run()
        if scheduler is not None:
            scheduler.request_stop()
            loop.join()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("bertprep serve: stopped", file=sys.stderr, flush=True)
    return 0
