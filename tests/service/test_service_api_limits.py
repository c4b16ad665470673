"""What an unauthenticated client can make a live `bertprep serve` do: nothing that costs memory.

A real uvicorn server on 127.0.0.1; 100 MB request bodies sent over a raw socket (declared length, and
chunked so no length warns the server), with and without the token; the server's peak resident memory
is read from /proc (VmHWM, reset through /proc/PID/clear_refs before each request).
"""
import os
import select
import signal
import socket
import time

import httpx
import pytest

from service_helpers import REPO, bertprep_process, wait_for, write_input, write_jobs

TOKEN = "limits-test-token"
BODY_BYTES = 100 * 1024 * 1024
MAX_GROWTH_BYTES = 64 * 1024 * 1024
CHUNK = b"x" * (256 * 1024)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def status_kib(pid: int, field: str) -> int:
    with open("/proc/%d/status" % pid) as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s for pid %d" % (field, pid))


def reset_peak(pid: int) -> None:
    """Make VmHWM (peak RSS) start again from the current RSS (Linux: write 5 to clear_refs)."""
    with open("/proc/%d/clear_refs" % pid, "w") as handle:
        handle.write("5")


def send_big_body(port: int, chunked: bool, token: str = None, timeout: float = 120.0) -> str:
    """POST a 100 MB body to the trigger endpoint; stop sending once the server answers. The status line."""
    headers = ["POST /jobs/counted/trigger HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    headers.append("Transfer-Encoding: chunked" if chunked else "Content-Length: %d" % BODY_BYTES)
    if token:
        headers.append("Authorization: Bearer " + token)
    connection = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    answer = b""
    try:
        connection.sendall(("\r\n".join(headers) + "\r\n\r\n").encode("ascii"))
        sent = 0
        while sent < BODY_BYTES:
            readable, _, _ = select.select([connection], [], [], 0)
            if readable:
                break  # the server answered before reading the body
            piece = CHUNK[:BODY_BYTES - sent]
            try:
                connection.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(piece)
        else:
            if chunked:
                connection.sendall(b"0\r\n\r\n")
        end = time.monotonic() + timeout
        while b"\r\n" not in answer and time.monotonic() < end:
            try:
                data = connection.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            answer += data
    finally:
        connection.close()
    return answer.split(b"\r\n", 1)[0].decode("latin-1")


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    """One server for the module (it takes seconds to start); the CLI with the fake-count pipeline."""
    directory = tmp_path_factory.mktemp("limits")
    write_input(directory, ["a", "b"])
    jobs = write_jobs(directory, """
        counted:
          pipeline: fake-count
          args: {input: in.txt}
    """)
    port = free_port()
    env = dict(os.environ, BERTPREP_API_TOKEN=TOKEN, BERTPREP_EXTRA_PIPELINES="service_fake_job",
               PYTHONPATH=os.pathsep.join(p for p in (str(REPO / "tests"), os.environ.get("PYTHONPATH")) if p))
    server = bertprep_process(["serve", "--jobs", str(jobs), "--host", "127.0.0.1", "--port", str(port),
                               "--no-scheduler"], cwd=directory, env=env)

    def reachable():
        try:
            return httpx.get("http://127.0.0.1:%d/health" % port, timeout=1).status_code == 200
        except httpx.HTTPError:
            return server.poll() is not None

    try:
        wait_for(reachable, timeout=90, what="the server")
        assert server.poll() is None, server.stdout.read()
        yield server, port
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=60)


@pytest.mark.parametrize("chunked, token, expected", [
    (False, None, ("401", "413")),   # a declared 100 MB body without a token
    (True, None, ("401",)),          # no length declared: the token is checked before reading
    (True, TOKEN, ("413",)),         # with the token: cut off once 1 MiB has arrived
])
def test_a_100_mb_body_does_not_grow_the_server(live_server, chunked, token, expected):
    server, port = live_server
    reset_peak(server.pid)
    before = status_kib(server.pid, "VmRSS")
    status_line = send_big_body(port, chunked, token)
    growth = (status_kib(server.pid, "VmHWM") - before) * 1024
    print("100 MB body, %s, %s: %s; server peak RSS grew %.1f MB (from %.0f MB)"
          % ("chunked" if chunked else "Content-Length", "token" if token else "no token", status_line,
             growth / 1e6, before * 1024 / 1e6))
    assert status_line.split(" ")[1] in expected, status_line
    assert growth < MAX_GROWTH_BYTES, "the server grew by %.1f MB" % (growth / 1e6)
    assert server.poll() is None
    assert httpx.get("http://127.0.0.1:%d/health" % port, timeout=10).status_code == 200


def test_trigger_bodies_take_json_booleans_only(live_server):
    _, port = live_server
    auth = {"Authorization": "Bearer " + TOKEN}
    with httpx.Client(base_url="http://127.0.0.1:%d" % port, timeout=10) as client:
        for body in ({"force": "false"}, {"force": 1}, {"force": None}, ["force"], {"force": True, "args": "x"}):
            answer = client.post("/jobs/counted/trigger", headers=auth, json=body)
            assert answer.status_code == 422, (body, answer.text)
        bad_json = client.post("/jobs/counted/trigger", headers=auth, content=b"{force: true")
        assert bad_json.status_code == 422
        assert client.get("/runs").json()["runs"] == []  # nothing was queued by a refused body
        forced = client.post("/jobs/counted/trigger", headers=auth, json={"force": True})
        plain = client.post("/jobs/counted/trigger", headers=auth, json={"force": False})
        empty = client.post("/jobs/counted/trigger", headers=auth)
        assert [answer.status_code for answer in (forced, plain, empty)] == [202, 202, 202]
        assert [answer.json()["force"] for answer in (forced, plain, empty)] == [True, False, False]
        assert client.post("/jobs/counted/trigger", json={"force": True}).status_code == 401
