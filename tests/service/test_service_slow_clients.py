"""1,100 slow clients against a live `bertprep serve` limited to 1,024 open files (issue 29, item 6):
/health keeps answering within 1 s and the server's log grows by less than 1 MB.

Every connection is to 127.0.0.1, bounded in number (1,100) and in time (about 14 s), and closed by the
test at the end. Each sends a request head a header line per second and never finishes it (slowloris).
"""
import os
import resource
import signal
import socket
import threading
import time

import httpx

from service_helpers import REPO, bertprep_process, wait_for, write_input, write_jobs

SLOW_CONNECTIONS = 1100
SERVER_OPEN_FILES = 1024
ATTACK_SECONDS = 14.0
HEALTH_SECONDS = 1.0
MAX_LOG_GROWTH = 1 << 20


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def limit_open_files():
    resource.setrlimit(resource.RLIMIT_NOFILE, (SERVER_OPEN_FILES, SERVER_OPEN_FILES))


def slow_clients(port: int, stop: threading.Event, counts: dict):
    """Open the connections, then dribble one header line per second into each until `stop`."""
    connections = []
    for _ in range(SLOW_CONNECTIONS):
        if stop.is_set():
            break
        connection = socket.socket()
        connection.settimeout(5)
        try:
            connection.connect(("127.0.0.1", port))
            connection.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            connection.setblocking(False)
            connections.append(connection)
            counts["opened"] += 1
        except OSError:
            connection.close()
            counts["refused"] += 1
    try:
        while not stop.wait(1.0):
            for connection in list(connections):
                try:
                    connection.send(b"X-Slow: 1\r\n")
                except OSError:  # the server closed it (header timeout or eviction)
                    counts["closed_by_server"] += 1
                    connections.remove(connection)
                    connection.close()
    finally:
        for connection in connections:
            connection.close()


def test_slow_clients_do_not_take_health_down_or_flood_the_log(tmp_path):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < SLOW_CONNECTIONS + 200:  # this test's own sockets
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    write_input(tmp_path, ["a"])
    jobs = write_jobs(tmp_path, """
        counted:
          pipeline: fake-count
          args: {input: in.txt}
    """)
    port = free_port()
    log_path = tmp_path / "serve.log"
    env = dict(os.environ, BERTPREP_EXTRA_PIPELINES="service_fake_job",
               PYTHONPATH=os.pathsep.join(p for p in (str(REPO / "tests"), os.environ.get("PYTHONPATH")) if p))
    with open(log_path, "wb") as log:
        server = bertprep_process(["serve", "--jobs", str(jobs), "--host", "127.0.0.1", "--port", str(port)],
                                  cwd=tmp_path, env=env, preexec_fn=limit_open_files)
        pump = threading.Thread(target=lambda: [log.write(line.encode()) or log.flush() for line in server.stdout])
        pump.start()
        stop = threading.Event()
        counts = {"opened": 0, "refused": 0, "closed_by_server": 0}
        attack = threading.Thread(target=slow_clients, args=(port, stop, counts))
        slowest = 0.0
        try:
            url = "http://127.0.0.1:%d/health" % port
            wait_for(lambda: _health(url, 5.0)[0] == 200 or server.poll() is not None, timeout=60, what="serve")
            log_before = log_path.stat().st_size
            attack.start()
            end = time.monotonic() + ATTACK_SECONDS
            probes = 0
            while time.monotonic() < end:
                status, seconds = _health(url, HEALTH_SECONDS)
                assert status == 200, "probe %d: /health did not answer within %.0f s (%s) while %s" % (
                    probes, HEALTH_SECONDS, status, counts)
                slowest = max(slowest, seconds)
                probes += 1
                time.sleep(0.25)
            # serve answers only its bind address and keeps its API description to itself
            assert httpx.get(url, headers={"Host": "rebound.example:%d" % port}, timeout=5).status_code == 421
            assert httpx.get(url.replace("127.0.0.1", "localhost"), timeout=5).status_code == 200
            for path in ("/docs", "/openapi.json"):
                assert httpx.get(url.replace("/health", path), timeout=5).status_code == 404
        finally:
            stop.set()
            if attack.is_alive():
                attack.join(30)
            server.send_signal(signal.SIGTERM)
            server.wait(60)
            pump.join(30)
    growth = log_path.stat().st_size - log_before
    print("%d slow connections (%d closed by the server); %d /health probes, slowest %.3f s; log grew %d bytes"
          % (counts["opened"], counts["closed_by_server"], probes, slowest, growth))
    assert counts["opened"] + counts["refused"] == SLOW_CONNECTIONS
    assert counts["closed_by_server"] >= SLOW_CONNECTIONS - 1000  # evicted or timed out: the limits acted
    assert growth < MAX_LOG_GROWTH
    assert "Too many open files" not in log_path.read_text(errors="replace")


def _health(url: str, timeout: float):
    started = time.monotonic()
    try:
        return httpx.get(url, timeout=timeout).status_code, time.monotonic() - started
    except httpx.HTTPError as error:
        return type(error).__name__, time.monotonic() - started
