"""Local multi-worker runs: workers forked from a warm server (bertprep.runtime.local_worker), same bytes as one.

The server and its workers are exercised in fresh interpreters: a process that already runs threads
(this test process, after any Beam run) does not fork, and falls back to fresh-interpreter workers.
"""
import json
import os
import subprocess
import sys

import pytest

from bertprep.commands.demo import build_vocabulary

TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(TESTS_DIR)
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fork server runs on Linux only")

# Runs the worker command twice against a server whose harness is replaced by one that reports what it
# got (or, with MODE=sleep, waits), so the hand-over is checked without a Beam job.
PROTOCOL = r"""
import json, os, subprocess, sys, time
from bertprep.runtime import local_worker

def reporting_harness(argv, fresh_logging=False):
    print(json.dumps({"argv": argv[1:], "pid": os.getpid(), "ppid": os.getppid(), "marker": os.environ.get("MARKER"),
                      "fresh_logging": fresh_logging}), flush=True)
    if os.environ.get("MODE") == "sleep":
        time.sleep(60)
    return 7

local_worker._run_harness = reporting_harness
with local_worker.worker_server("fork_preload_helper") as server:
    assert server is not None and os.environ[local_worker.SERVER_ENV] == server.address
    command = [sys.executable, "-m", "bertprep.runtime.local_worker", "--flag", "value"]
    if os.environ.get("MODE") == "sleep":
        client = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        worker = json.loads(client.stdout.readline())["pid"]
        client.kill()
        client.wait()
        deadline = time.time() + 10
        while time.time() < deadline:
            with open("/proc/%d/stat" % worker) as handle:
                state = handle.read().rsplit(")", 1)[1].split()[0]
            if state == "Z":
                break
            time.sleep(0.05)
        print(json.dumps({"worker_state": state}))
    else:
        runs = [subprocess.run(command, env=dict(os.environ, MARKER=str(n)), capture_output=True, text=True,
                               timeout=60) for n in range(2)]
        print(json.dumps({"server": server.pid, "runs": [[run.returncode, run.stdout] for run in runs]}))
print(json.dumps({"left": [os.path.exists(server.address), os.path.exists("/proc/%d" % server.pid),
                           local_worker.SERVER_ENV in os.environ]}))
"""


def run_script(script, tmp_path, **env):
    environ = dict(os.environ, PRELOAD_LOG=str(tmp_path / "preload.log"),
                   PYTHONPATH=os.pathsep.join([REPO, TESTS_DIR, os.environ.get("PYTHONPATH", "")]), **env)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=environ)
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def test_the_worker_command_hands_its_environment_arguments_and_streams_to_a_forked_worker(tmp_path):
    report, left = run_script(PROTOCOL, tmp_path)
    server = report["server"]
    workers = []
    for number, (code, stdout) in enumerate(report["runs"]):
        assert code == 7  # the worker's exit status is the command's
        worker = json.loads(stdout)  # written by the worker to the command's own stdout
        assert worker["argv"] == ["--flag", "value"] and worker["marker"] == str(number)
        assert worker["ppid"] == server and worker["fresh_logging"] is True
        workers.append(worker["pid"])
    assert len(set(workers)) == 2 and server not in workers
    # The preload ran once, in the server, not once per worker.
    assert (tmp_path / "preload.log").read_text().split() == [str(server)]
    # Closing ends the server and removes its socket and the environment variable.
    assert left == {"left": [False, False, False]}


def test_a_killed_worker_command_takes_its_worker_with_it(tmp_path):
    report, _ = run_script(PROTOCOL, tmp_path, MODE="sleep")
    assert report == {"worker_state": "Z"}  # exited (and waiting to be collected), not sleeping on


def test_two_forked_workers_write_the_bytes_of_one(shared, tmp_path):
    with open(shared / "data" / "corpus" / "zh_peopledaily_docs.txt", encoding="utf-8") as handle:
        (tmp_path / "corpus.txt").write_text("".join(line for _, line in zip(range(6000), handle)), encoding="utf-8")
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(build_vocabulary(str(tmp_path / "corpus.txt"))) + "\n", encoding="utf-8")
    outputs = {}
    for workers in (1, 2):
        out = tmp_path / ("w%d" % workers)
        done = subprocess.run([sys.executable, "-c", "from bertprep.cli import console_main; console_main()",
                               "pretraining", "--input", str(tmp_path / "corpus.txt"), "--vocab", str(vocab),
                               "--output", str(out), "--dupe-factor", "2", "--workers", str(workers)],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "Traceback" not in done.stderr, done.stderr[-3000:]
        outputs[workers] = {path.name: path.read_bytes() for path in sorted(out.glob("pretraining-*"))}
    assert len(outputs[1]) > 1 and outputs[1] == outputs[2]


FAILING = r"""
import sys
from bertprep import cli
import toy_job
from toy_command import TOY_MODULE, make_toy_command
sys.modules[TOY_MODULE] = make_toy_command(toy_job.build_failing_pipeline)
cli.COMMANDS = [name for name in cli.COMMANDS if name != TOY_MODULE] + [TOY_MODULE]
sys.exit(cli.main(["toy", "--input", sys.argv[1], "--output", sys.argv[2], "--workers", "2"]))
"""


def test_a_forked_workers_error_is_one_line(tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("fine\npoison\nfine too\n", encoding="utf-8")
    environ = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO, TESTS_DIR, os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", FAILING, str(source), str(tmp_path / "out")], capture_output=True,
                          text=True, timeout=300, env=environ)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2, done.stderr[-3000:]
    assert lines[-1].startswith("bertprep: error: ") and "in.txt:2: poisoned line" in lines[-1], lines[-5:]
    assert not [line for line in lines if line.startswith(("INFO:", "WARNING:"))], lines[:5]
    assert not (tmp_path / "out" / "_COMPLETE").exists()
