"""One device, MirroredStrategy over two logical CPUs and MultiWorkerMirroredStrategy over two real local
worker processes (TF_CONFIG on 127.0.0.1) train the same model: the same loss at every logged step, the
same evaluation metrics, the same final weights, for the classifier and pretraining tasks (dropout off,
same seed, same global batch). The cluster runs once; several tests read it.
"""
import os

import pytest

pytest.importorskip("tensorflow")

from trainer_cluster import (HERE, NO_GRADIENT, RUNS_SCRIPT, final_weights, free_ports,  # noqa: E402
                             relative_difference, results_of, start, tf_config, write_data)

TOLERANCE = 1e-4
TASKS = ("classifier", "pretraining")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Reference runs (one device, mirrored) in one process, the two-worker cluster in two more, at once."""
    root = str(tmp_path_factory.mktemp("equivalence"))
    write_data(root)
    script = os.path.join(root, "runs.py")
    with open(script, "w") as handle:
        handle.write(RUNS_SCRIPT)
    ports = free_ports(2)
    reference = start([script, HERE, root, "mirrored,one_device"], os.path.join(root, "reference.log"))
    workers = [start([script, HERE, root, "multi_worker_mirrored"], os.path.join(root, f"worker{index}.log"),
                     TF_CONFIG=tf_config(ports, index)) for index in range(2)]
    for process in [reference, *workers]:
        process.wait(timeout=600)
    results = results_of(os.path.join(root, "reference.log"))
    per_worker = [results_of(os.path.join(root, f"worker{index}.log")) for index in range(2)]
    results.update(per_worker[0])
    return {"root": root, "results": results, "per_worker": per_worker}


def _relative(value, reference):
    return abs(value - reference) / max(abs(reference), 1e-12)


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("strategy", ["mirrored", "multi_worker_mirrored"])
def test_same_losses_metrics_and_weights_as_one_device(runs, task, strategy):
    one, other = runs["results"][f"one_device/{task}"], runs["results"][f"{strategy}/{task}"]
    assert (one["replicas"], other["replicas"]) == (1, 2)
    assert [entry["step"] for entry in other["losses"]] == [entry["step"] for entry in one["losses"]]
    for mine, reference in zip(other["losses"], one["losses"]):
        assert _relative(mine["loss"], reference["loss"]) <= TOLERANCE, (mine, reference)
    assert one["losses"][-1]["loss"] < one["losses"][0]["loss"]  # it trained, so equal weights mean something
    numbers = {name for name, value in one["eval"].items() if isinstance(value, float)}
    assert numbers and one["eval"]["examples"] == other["eval"]["examples"] == (40 if task == "classifier" else 20)
    for name in numbers:
        assert _relative(other["eval"][name], one["eval"][name]) <= TOLERANCE, name
    reference_weights = final_weights(os.path.join(runs["root"], "one_device", task), task)
    weights = final_weights(os.path.join(runs["root"], strategy, task), task)
    assert sorted(weights) == sorted(reference_weights) and len(weights) > 10
    for name, value in weights.items():
        if NO_GRADIENT not in name:
            assert relative_difference(value, reference_weights[name]) <= TOLERANCE, name


def test_every_worker_reports_the_same_run(runs):
    first, second = runs["per_worker"]
    for task in TASKS:
        key = f"multi_worker_mirrored/{task}"
        assert [e["loss"] for e in first[key]["losses"]] == [e["loss"] for e in second[key]["losses"]]
        assert first[key]["eval"]["examples"] == second[key]["eval"]["examples"]


@pytest.mark.parametrize("task", TASKS)
def test_only_the_chief_writes(runs, task):
    output = os.path.join(runs["root"], "multi_worker_mirrored", task)
    names = sorted(os.listdir(output))
    assert names == sorted(["bert_config.json", "checkpoints", "eval_results.json", "model.json", "report.html",
                            "tensorboard", "train_log.jsonl"]), names
    with open(os.path.join(output, "train_log.jsonl")) as handle:
        steps = [line.split('"step": ')[1].split(",")[0] for line in handle]
    assert len(steps) == len(set(steps)) == len(runs["results"][f"one_device/{task}"]["losses"])
    for part in ("train", "eval"):
        assert len(os.listdir(os.path.join(output, "tensorboard", part))) == 1
    checkpoints = {name for name in os.listdir(os.path.join(output, "checkpoints")) if name.endswith(".index")}
    steps = 12 if task == "classifier" else 8
    assert checkpoints == {f"ckpt-{steps // 2}.index", f"ckpt-{steps}.index"}
