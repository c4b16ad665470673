"""Workers as platforms start them: Vertex AI's CLUSTER_SPEC becomes TF_CONFIG (simulated: the variables
are set here as Vertex AI sets them; tests/trainer/test_trainer_cluster_restart.py starts real workers from it),
and the Dockerfile has a trainer target on a TensorFlow GPU base while the Dataflow image stays the
default target. No Docker daemon is here: the Dockerfile is read, not built."""
import json
import os

import pytest

from bertprep.errors import BertprepError
from bertprep.trainer.cluster import describe_task, ensure_tf_config, tf_config_from_cluster_spec

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEC = {"cluster": {"workerpool0": ["cmle-training-workerpool0-ab-0:2222"],
                    "workerpool1": ["cmle-training-workerpool1-ab-0:2222", "cmle-training-workerpool1-ab-1:2222"]},
        "environment": "cloud", "task": {"type": "workerpool1", "index": 1}, "job": "{}"}


def test_vertex_cluster_spec_becomes_tf_config():
    environ = {"CLUSTER_SPEC": json.dumps(SPEC)}
    assert ensure_tf_config(environ) == "CLUSTER_SPEC"
    config = json.loads(environ["TF_CONFIG"])
    assert config["cluster"] == {"chief": SPEC["cluster"]["workerpool0"], "worker": SPEC["cluster"]["workerpool1"]}
    assert config["task"] == {"type": "worker", "index": 1}
    assert describe_task(environ) == "worker 1 of 3"


def test_tf_config_set_by_the_platform_wins():
    environ = {"TF_CONFIG": '{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 0}}',
               "CLUSTER_SPEC": json.dumps(SPEC)}
    assert ensure_tf_config(environ) == "TF_CONFIG" and "chief" not in environ["TF_CONFIG"]


@pytest.mark.parametrize("environ, message", [
    ({}, "needs the cluster in TF_CONFIG (or Vertex AI's CLUSTER_SPEC)"),
    ({"CLUSTER_SPEC": "{not json"}, "CLUSTER_SPEC is not a Vertex AI cluster spec"),
    ({"CLUSTER_SPEC": json.dumps({**SPEC, "cluster": {**SPEC["cluster"], "workerpool2": ["ps:1"]}})},
     "parameter servers (workerpool2)"),
])
def test_missing_or_unusable_cluster_is_one_line(environ, message):
    with pytest.raises(BertprepError) as caught:
        ensure_tf_config(environ)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_primary_replica_alone_is_the_chief():
    config = tf_config_from_cluster_spec(json.dumps({"cluster": {"workerpool0": ["h:1"]},
                                                     "task": {"type": "workerpool0", "index": 0}}))
    assert config["cluster"] == {"chief": ["h:1"]} and config["task"] == {"type": "chief", "index": 0}


def test_dockerfile_has_a_trainer_target_and_keeps_dataflow_the_default():
    with open(os.path.join(ROOT, "Dockerfile")) as handle:
        stages = [line.split() for line in handle if line.startswith("FROM ")]
    trainer = [stage for stage in stages if stage[-1] == "trainer"]
    assert trainer and trainer[0][1].startswith("tensorflow/tensorflow:") and trainer[0][1].endswith("-gpu")
    assert stages[-1][1].startswith("apache/beam_python")  # `docker build .` builds the last stage
