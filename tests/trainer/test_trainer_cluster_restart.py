"""Two real worker processes (`bertprep train --strategy multi_worker_mirrored`): one is killed mid-run, the
other stops within 60 s with one line naming it (never a hang in a collective); the cluster restarted on the
same output, this time described the way Vertex AI does (CLUSTER_SPEC, no TF_CONFIG: simulated here by
setting the variable), resumes from the last checkpoint and ends where an uninterrupted run ends."""
import json
import os
import signal
import time

import pytest

pytest.importorskip("tensorflow")

from trainer_cluster import (NO_GRADIENT, final_weights, free_ports, relative_difference, start,  # noqa: E402
                             tf_config, vertex_cluster_spec, write_data)

STEPS = 60
SAVE_EVERY = 5


def _train_arguments(root, output, strategy):
    return ["-m", "bertprep", "train", "--task", "classifier", "--data", os.path.join(root, "classifier_train"),
            "--bert-config", os.path.join(root, "bert_config.json"), "--output", output,
            "--train-batch-size", "16", "--learning-rate", "2e-3", "--num-train-steps", str(STEPS),
            "--steps-per-loop", "1", "--log-every", "1", "--save-checkpoints-steps", str(SAVE_EVERY),
            "--classifier-dropout", "0", "--strategy", strategy]


def _last_logged_step(output):
    try:
        with open(os.path.join(output, "train_log.jsonl")) as handle:
            lines = [line for line in handle if line.endswith("\n")]
    except FileNotFoundError:
        return 0
    return json.loads(lines[-1])["step"] if lines else 0


def _wait_for_step(output, step, processes, timeout=300):
    deadline = time.time() + timeout
    while _last_logged_step(output) < step:
        assert time.time() < deadline, "the cluster did not reach step %d" % step
        assert all(process.poll() is None for process in processes), "a worker ended before the kill"
        time.sleep(0.02)


def _read(path):
    with open(path) as handle:
        return handle.read()


def test_killed_worker_stops_the_other_and_a_restarted_cluster_resumes(tmp_path):
    root = str(tmp_path)
    write_data(root)
    output = os.path.join(root, "cluster")
    reference = start(_train_arguments(root, os.path.join(root, "reference"), "one_device"),
                      os.path.join(root, "reference.log"))
    ports = free_ports(2)
    workers = [start(_train_arguments(root, output, "multi_worker_mirrored"), os.path.join(root, f"first{i}.log"),
                     TF_CONFIG=tf_config(ports, i)) for i in range(2)]
    try:
        _wait_for_step(output, SAVE_EVERY + 1, workers)
        workers[1].send_signal(signal.SIGKILL)
        killed = time.time()
        code = workers[0].wait(timeout=120)
        stopped_after = time.time() - killed
    finally:
        for process in workers:
            if process.poll() is None:
                process.kill()
    log = _read(os.path.join(root, "first0.log"))
    errors = [line for line in log.splitlines() if line.startswith("bertprep: error:")]
    assert code == 2 and stopped_after < 60, (code, stopped_after, log[-3000:])
    assert len(errors) == 1 and "worker 1" in errors[0] and "restart every worker" in errors[0], log[-3000:]
    assert "Traceback" not in log
    interrupted_at = _last_logged_step(output)
    assert interrupted_at < STEPS

    ports = free_ports(2)
    restarted = [start(_train_arguments(root, output, "multi_worker_mirrored"), os.path.join(root, f"again{i}.log"),
                       CLUSTER_SPEC=vertex_cluster_spec(ports, i)) for i in range(2)]
    for process, log_name in zip([*restarted, reference], ["again0.log", "again1.log", "reference.log"]):
        assert process.wait(timeout=600) == 0, _read(os.path.join(root, log_name))[-3000:]
    chief_log = _read(os.path.join(root, "again0.log"))
    resumed = int(chief_log.split("resumed from")[1].split("at step ")[1].split()[0])
    assert resumed % SAVE_EVERY == 0 and SAVE_EVERY <= resumed <= interrupted_at
    assert _last_logged_step(output) == STEPS
    reference_weights = final_weights(os.path.join(root, "reference"))
    weights = final_weights(output)
    assert sorted(weights) == sorted(reference_weights)
    for name, value in weights.items():
        if NO_GRADIENT not in name:
            assert relative_difference(value, reference_weights[name]) <= 1e-4, name
