"""Helpers for the multi-replica trainer tests: the runs (one device, two logical CPUs, two local worker
processes), free ports, TF_CONFIG / CLUSTER_SPEC, and reading a run's final weights."""
import json
import os
import socket
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# Small runs whose global batches span epochs (the classifier set has one shard: fewer than the workers).
CLASSIFIER = dict(task="classifier", train_batch_size=16, eval_batch_size=16, learning_rate=2e-3,
                  num_train_steps=12, steps_per_loop=3, log_every=3, save_checkpoints_steps=6,
                  classifier_dropout=0.0)
PRETRAINING = dict(task="pretraining", train_batch_size=8, eval_batch_size=8, learning_rate=2e-3,
                   num_train_steps=8, steps_per_loop=2, log_every=2, save_checkpoints_steps=4)

# One process trains every run the strategy names (a process has one MultiWorkerMirroredStrategy),
# then prints its summaries on a RESULTS line.
RUNS_SCRIPT = r"""
import json, os, sys
sys.path.insert(0, sys.argv[1])
import tensorflow as tf
strategies = sys.argv[3].split(",")
if "mirrored" in strategies:
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from trainer_cluster import run_settings
from bertprep.trainer.loop import TrainConfig, train
root = sys.argv[2]
results = {}
for strategy in strategies:
    for name, settings in run_settings(root).items():
        output = os.path.join(root, strategy, name)
        summary = train(TrainConfig(output=output, strategy=strategy, verbose=False, **settings))
        results[strategy + "/" + name] = {"losses": summary["losses"], "eval": summary.get("eval"),
                                          "replicas": summary["replicas"]}
print("RESULTS " + json.dumps(results), flush=True)
"""


def run_settings(root) -> dict:
    """The TrainConfig settings of each run under `root` (where write_data put the data)."""
    bert_config = os.path.join(root, "bert_config.json")
    return {"classifier": dict(CLASSIFIER, data=os.path.join(root, "classifier_train"),
                               eval_data=os.path.join(root, "classifier_eval"), bert_config=bert_config),
            "pretraining": dict(PRETRAINING, data=os.path.join(root, "pretraining_train"),
                                eval_data=os.path.join(root, "pretraining_eval"), bert_config=bert_config)}


def write_data(root):
    from trainer_data import (classifier_records, pretraining_records, tiny_config, write_bert_config,
                              write_dataset)

    write_bert_config(root, tiny_config())
    labels = {"labels": ["0", "1"]}
    write_dataset(os.path.join(root, "classifier_train"), "classifier", {"max_seq_length": 16},
                  classifier_records(72, seed=2), extra_info=labels, num_shards=1)
    write_dataset(os.path.join(root, "classifier_eval"), "classifier", {"max_seq_length": 16},
                  classifier_records(40, seed=9), extra_info=labels, num_shards=1)
    lengths = {"max_seq_length": 32, "max_predictions_per_seq": 5}
    write_dataset(os.path.join(root, "pretraining_train"), "pretraining", lengths, pretraining_records(40, seed=1),
                  num_shards=2)
    write_dataset(os.path.join(root, "pretraining_eval"), "pretraining", lengths, pretraining_records(20, seed=5),
                  num_shards=1)


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for probe in sockets:
        probe.bind(("127.0.0.1", 0))
    ports = [probe.getsockname()[1] for probe in sockets]
    for probe in sockets:
        probe.close()
    return ports


def tf_config(ports, index) -> str:
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{port}" for port in ports]},
                       "task": {"type": "worker", "index": index}})


def vertex_cluster_spec(ports, index) -> str:
    """Vertex AI's CLUSTER_SPEC for a primary replica (workerpool0) and one worker (workerpool1)."""
    pool, position = ("workerpool0", 0) if index == 0 else ("workerpool1", index - 1)
    return json.dumps({"cluster": {"workerpool0": [f"127.0.0.1:{ports[0]}"],
                                   "workerpool1": [f"127.0.0.1:{port}" for port in ports[1:]]},
                       "environment": "cloud", "task": {"type": pool, "index": position}})


def environment(**extra) -> dict:
    env = {name: value for name, value in os.environ.items() if name not in ("TF_CONFIG", "CLUSTER_SPEC")}
    env["PYTHONPATH"] = os.pathsep.join([ROOT, HERE, env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


def start(arguments, log_path, **extra_env):
    with open(log_path, "w") as log:
        return subprocess.Popen([sys.executable, *arguments], stdout=log, stderr=subprocess.STDOUT,
                                env=environment(**extra_env), cwd=ROOT)


def results_of(log_path) -> dict:
    with open(log_path) as handle:
        text = handle.read()
    lines = [line for line in text.splitlines() if line.startswith("RESULTS ")]
    assert lines, text[-4000:]
    return json.loads(lines[-1][len("RESULTS "):])


def final_weights(output, task="classifier") -> dict:
    """The model's variables in the run's last checkpoint, by variable path, the optimizer's moments left
    out. A variable is stored once, under the first path to it: the encoder's under the optimizer's list of
    trainable variables, whose order is the model's (a tiny model is built to name them)."""
    import tensorflow as tf

    from bertprep.trainer.heads import build_task_model
    from trainer_data import tiny_config

    paths = [variable.path for variable in build_task_model(task, tiny_config(), 2).trainable_variables]
    reader = tf.train.load_checkpoint(os.path.join(output, "checkpoints"))
    weights = {}
    for name in reader.get_variable_to_shape_map():
        if name.startswith("optimizer/_trainable_variables/"):
            weights[paths[int(name.split("/")[2])]] = reader.get_tensor(name)
        elif name.startswith("model/") and name.endswith("VARIABLE_VALUE"):
            weights[name] = reader.get_tensor(name)
    return weights


# The attention keys' bias adds the same number to every score of a query, which softmax ignores: its
# gradient is 0 in exact arithmetic and rounding noise in practice, and the noise differs with the order of
# the sums (one device or several). The equivalence of the weights is checked on every other variable.
NO_GRADIENT = "/attention/key/bias"


def relative_difference(value, reference) -> float:
    import numpy as np

    value, reference = np.asarray(value, np.float64), np.asarray(reference, np.float64)
    return float(np.linalg.norm(value - reference) / max(np.linalg.norm(reference), 1e-12))
