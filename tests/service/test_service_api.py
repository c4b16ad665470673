"""The HTTP API against a live `bertprep serve` on 127.0.0.1, with a real HTTP client (httpx)."""
import os
import signal
import socket

import httpx

from service_helpers import bertprep_process, fake_job, wait_for, write_input, write_jobs  # noqa: F401

TOKEN = "test-token-5f1c"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def reachable(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_trigger_list_and_show_runs_on_a_live_server(tmp_path, fake_job):
    write_input(tmp_path, ["line %d" % index for index in range(7)])
    jobs = write_jobs(tmp_path, """
        counted:
          pipeline: fake-count
          description: counts lines
          args: {input: in.txt}
        nightly:
          pipeline: fake-count
          schedule: "0 3 * * *"
          timezone: Asia/Shanghai
          args: {input: in.txt, label: nightly}
    """)
    port = free_port()
    env = dict(os.environ, BERTPREP_API_TOKEN=TOKEN)
    server = bertprep_process(["serve", "--jobs", str(jobs), "--host", "127.0.0.1", "--port", str(port),
                               "--poll-seconds", "0.2"], cwd=tmp_path, env=env)
    base = "http://127.0.0.1:%d" % port
    try:
        wait_for(lambda: reachable(base + "/health") or server.poll() is not None, timeout=90, what="the server")
        assert server.poll() is None, server.stdout.read()
        with httpx.Client(base_url=base, timeout=10) as client:
            health = client.get("/health").json()
            assert health["status"] == "ok" and health["jobs"] == 2 and health["scheduler"] == "running"

            listed_jobs = {job["name"]: job for job in client.get("/jobs").json()["jobs"]}
            assert set(listed_jobs) == {"counted", "nightly"}
            assert listed_jobs["nightly"]["next_run"].endswith("+08:00")
            assert listed_jobs["counted"]["next_run"] is None and listed_jobs["counted"]["latest"] is None

            refused = client.post("/jobs/counted/trigger")
            assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
            assert client.post("/jobs/counted/trigger", headers={"Authorization": "Bearer wrong"}).status_code == 401
            assert client.post("/jobs/counted/trigger", headers={"X-Bertprep-Token": "wrong"}).status_code == 401
            assert client.get("/runs").json()["runs"] == []  # refused triggers queued nothing

            auth = {"Authorization": "Bearer " + TOKEN}
            assert client.post("/jobs/nope/trigger", headers=auth).status_code == 404
            accepted = client.post("/jobs/counted/trigger", headers=auth)
            assert accepted.status_code == 202, accepted.text
            run_id = accepted.json()["run_id"]
            assert accepted.json()["status"] == "queued"

            def finished():
                shown = client.get("/runs/" + run_id).json()
                return shown if shown["status"] not in ("queued", "running") else None

            shown = wait_for(finished, timeout=90, interval=0.2, what="the triggered run")
            assert shown["status"] == "succeeded", shown
            assert shown["trigger"] == "api" and shown["is_latest"]
            assert shown["counters"] == {"read": 7, "written": 7, "dead_lettered": 0}
            assert shown["report"]["counts"]["written"] == 7
            assert shown["output_path"].endswith("/out/counted/" + run_id)
            assert "wrote 7 records" in shown["log_tail"]
            assert shown["started_at"].endswith("Z") and shown["duration_seconds"] >= 0

            second = client.post("/jobs/counted/trigger", headers={"X-Bertprep-Token": TOKEN}, json={"force": True})
            assert second.status_code == 202 and second.json()["force"] is True
            listed = client.get("/runs", params={"job": "counted"}).json()["runs"]
            assert [run["run_id"] for run in listed][-1] == run_id and len(listed) == 2
            assert client.get("/runs", params={"status": "succeeded"}).json()["runs"][-1]["run_id"] == run_id
            assert client.get("/runs", params={"status": "bogus"}).status_code == 422
            assert client.get("/runs/20990101T000000Z-ffffff").status_code == 404
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=90)
    assert server.returncode == 0, output


def test_triggers_are_refused_when_the_server_has_no_token(tmp_path, fake_job, monkeypatch):
    from fastapi.testclient import TestClient

    from bertprep.service.api import create_app
    from bertprep.service.jobs_file import load_jobs_file

    monkeypatch.delenv("BERTPREP_API_TOKEN", raising=False)
    write_input(tmp_path, ["a"])
    jobs = write_jobs(tmp_path, """
        counted:
          pipeline: fake-count
          args: {input: in.txt}
    """)
    client = TestClient(create_app(load_jobs_file(str(jobs))))
    refused = client.post("/jobs/counted/trigger", headers={"Authorization": "Bearer anything"})
    assert refused.status_code == 401 and "BERTPREP_API_TOKEN" in refused.json()["detail"]
    assert client.get("/runs").json()["runs"] == []
