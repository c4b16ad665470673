"""gs:// without credentials or without a reachable store: one line naming the path and what to do, within
30 s (Beam's own path retried credentials for ~20 s, then each request for 120 s, and ended in a traceback),
from the CLI, from `bertprep serve` (`GET /jobs` says it for each job's LATEST, a triggered run fails naming
the path) and
from `runs show`. Every process here runs with an environment that has no Google credentials: no key file,
no gcloud configuration (an empty HOME), no emulator.
"""
import json
import os
import subprocess
import sys
import time

import httpx

from gcs_emulator import free_port, gcs_bucket, storage_emulator  # noqa: F401
from service_helpers import bertprep_process, wait_for

LIMIT_SECONDS = 30
TOKEN = "gcs-credentials-token"


def no_credentials_env(home, **extra):
    env = {key: value for key, value in os.environ.items()
           if key not in ("STORAGE_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_CONFIG",
                          "GOOGLE_CLOUD_PROJECT", "BERTPREP_GCS_ANONYMOUS")}
    home.mkdir(exist_ok=True)
    # Not a Compute Engine VM either, wherever the suite runs: google-auth's metadata-server probe goes to a
    # closed local port (it still runs, and is refused at once).
    closed = "127.0.0.1:%d" % free_port()
    env.update(HOME=str(home), CLOUDSDK_CONFIG=str(home / "gcloud"), GCE_METADATA_IP=closed,
               GCE_METADATA_HOST=closed, **extra)
    return env


def bertprep(env, *argv):
    """(exit status, stderr lines) of `python -m bertprep ARGV`, which must end within LIMIT_SECONDS."""
    done = subprocess.run([sys.executable, "-m", "bertprep", *argv], env=env, capture_output=True, text=True,
                          timeout=LIMIT_SECONDS)
    return done.returncode, [line for line in done.stderr.splitlines() if line.strip()]


def test_the_cli_without_credentials_says_so_in_one_line(tmp_path):
    env = no_credentials_env(tmp_path / "home")
    for argv, path in ((("inspect", "gs://bkt/out"), "gs://bkt/out/info.json"),
                       (("pretraining", "--input", "gs://bkt/in/*.txt", "--vocab", "gs://bkt/vocab.txt",
                         "--output", "gs://bkt/out"), "gs://bkt/")):
        status, lines = bertprep(env, *argv)
        assert status == 2 and len(lines) == 1, lines
        assert lines[0].startswith("bertprep: error: " + path), lines
        assert "no Google Cloud credentials found" in lines[0] and "gcloud auth application-default login" in lines[0]


def test_an_unreachable_emulator_is_one_line(tmp_path):
    dead = "http://127.0.0.1:%d" % free_port()  # nothing listens there
    status, lines = bertprep(no_credentials_env(tmp_path / "home", STORAGE_EMULATOR_HOST=dead), "inspect", "gs://bkt/o")
    assert status == 2 and len(lines) == 1, lines
    assert lines[0].startswith("bertprep: error: gs://bkt/o/info.json: cannot reach the storage emulator at " + dead)


def test_the_emulator_and_no_auth_need_no_credentials(storage_emulator, gcs_bucket, tmp_path):
    """Against the emulator the client is anonymous at once (no credential look-up, no retries); with Beam's
    --no_auth and no emulator, the credentials are not looked for either: what fails is reaching the bucket."""
    env = no_credentials_env(tmp_path / "home", STORAGE_EMULATOR_HOST=storage_emulator.host)
    status, lines = bertprep(env, "inspect", gcs_bucket + "/nothing")
    assert status == 2 and lines == ["bertprep: error: %s/nothing is incomplete: no info.json and no _COMPLETE marker "
                                     "(the run did not finish)" % gcs_bucket]
    status, lines = bertprep(no_credentials_env(tmp_path / "home"), "pretraining", "--input", "gs://bkt/in/*.txt",
                             "--vocab", "gs://bkt/vocab.txt", "--output", "gs://bkt/out", "--no_auth")
    assert status == 2 and len(lines) == 1 and lines[0].startswith("bertprep: error: gs://bkt/"), lines
    assert "credentials" not in lines[0]


def test_the_service_and_runs_show_without_credentials(tmp_path):
    (tmp_path / "jobs.yaml").write_text(
        "output_root: gs://bkt/runs\njobs:\n  nightly:\n    pipeline: pretraining\n"
        "    args: {input: gs://bkt/in/docs.txt, vocab: gs://bkt/vocab.txt}\n", encoding="utf-8")
    port = free_port()
    env = no_credentials_env(tmp_path / "home", BERTPREP_API_TOKEN=TOKEN)
    server = bertprep_process(["serve", "--jobs", str(tmp_path / "jobs.yaml"), "--host", "127.0.0.1", "--port",
                               str(port), "--poll-seconds", "0.2"], cwd=tmp_path, env=env)
    base = "http://127.0.0.1:%d" % port
    try:
        wait_for(lambda: _answers(base + "/health") or server.poll() is not None, timeout=90, what="the server")
        assert server.poll() is None, server.stdout.read()
        with httpx.Client(base_url=base, timeout=LIMIT_SECONDS) as client:
            started = time.monotonic()
            listed = client.get("/jobs")  # the job list answers; each job's LATEST says why it is unknown
            assert listed.status_code == 200, listed.text
            detail = listed.json()["jobs"][0]["latest"]["error"]
            assert detail.startswith("gs://bkt/runs/nightly/LATEST: no Google Cloud credentials found") and \
                "\n" not in detail
            accepted = client.post("/jobs/nightly/trigger", headers={"Authorization": "Bearer " + TOKEN})
            assert accepted.status_code == 202, accepted.text
            run_id = accepted.json()["run_id"]

            def finished():
                shown = client.get("/runs/" + run_id).json()
                return shown if shown["status"] not in ("queued", "running") else None

            shown = wait_for(finished, timeout=LIMIT_SECONDS, interval=0.2, what="the triggered run to fail")
            assert time.monotonic() - started < LIMIT_SECONDS
            assert shown["status"] == "failed" and "gs://bkt/" in shown["error"]
            assert "no Google Cloud credentials found" in shown["error"]
            assert shown["storage_error"].startswith("gs://bkt/runs/nightly/LATEST: no Google Cloud credentials")
    finally:
        server.terminate()
        server.wait(timeout=30)
    registry = tmp_path / "bertprep-runs.sqlite"
    done = subprocess.run([sys.executable, "-m", "bertprep", "runs", "show", run_id, "--json", "--registry",
                           str(registry)], env=env, capture_output=True, text=True, timeout=LIMIT_SECONDS)
    assert done.returncode == 0, done.stderr
    assert "no Google Cloud credentials found" in json.loads(done.stdout)["error"]


def _answers(url):
    try:
        return httpx.get(url, timeout=1).status_code in (200, 503)
    except httpx.HTTPError:
        return False
