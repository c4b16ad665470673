"""Every task's training and evaluation steps compile with XLA (jit_compile=True) on CPU, in mixed_bfloat16:
what a TPU requires (static shapes, no Python work in the step). Training drops the last partial batch,
evaluation pads it with rows that are not counted. The TPU itself (TPUClusterResolver) is not run here.

One subprocess trains all four tasks; TensorFlow's C++ log there shows that XLA compiled the steps.
"""
import json
import math
import os
import subprocess
import sys

import pytest

pytest.importorskip("tensorflow")

HERE = os.path.dirname(os.path.abspath(__file__))  # tests/trainer: this module, for the subprocess
TESTS = os.path.dirname(HERE)  # the shared test helpers (trainer_data)
ROOT = os.path.dirname(TESTS)
TASKS = ("pretraining", "classifier", "squad", "tagging")
TRAIN_RECORDS, EVAL_RECORDS, BATCH = 20, 13, 8  # neither divides into whole batches

SCRIPT = r"""
import json, os, sys
sys.path.insert(0, sys.argv[1])
from test_trainer_xla import write_task_data
from bertprep.trainer.loop import TrainConfig, train
root = sys.argv[2]
results = {}
for task in sys.argv[3].split(","):
    settings = write_task_data(root, task)
    summary = train(TrainConfig(task=task, output=os.path.join(root, task, "out"), train_batch_size=8,
                                eval_batch_size=8, learning_rate=1e-3, num_train_steps=3, steps_per_loop=3,
                                log_every=3, precision="mixed_bfloat16", jit_compile=True, verbose=False,
                                **settings))
    results[task] = {"losses": [entry["loss"] for entry in summary["losses"]], "eval": summary["eval"],
                     "precision": summary["precision"]}
print("RESULTS " + json.dumps(results), flush=True)
"""


def _squad_records(count, seq_length, train):
    from trainer_data import classifier_records

    for index, record in enumerate(classifier_records(count, seq_length)):
        features = {name: record[name] for name in ("input_ids", "input_mask", "segment_ids")}
        features["unique_id"] = 1000 + index
        if train:
            features.update(start_positions=1 + index % 4, end_positions=2 + index % 4, is_impossible=0)
        yield features


def write_task_data(root, task) -> dict:
    """Training and evaluation data for `task` and a tiny config; the TrainConfig fields that name them."""
    from trainer_data import (classifier_records, pretraining_records, tagging_records, tiny_config,
                              write_bert_config, write_dataset)

    directory = os.path.join(root, task)
    os.makedirs(directory, exist_ok=True)
    config = {"max_seq_length": 16}
    if task == "pretraining":
        config = {"max_seq_length": 32, "max_predictions_per_seq": 5}
        kinds, records = ("pretraining", "pretraining"), lambda n, seed: pretraining_records(n, seed=seed)
    elif task == "classifier":
        kinds, records = ("classifier", "classifier"), lambda n, seed: classifier_records(n, seed=seed)
    elif task == "tagging":
        kinds, records = ("tagging", "tagging"), lambda n, seed: tagging_records(n, seed=seed)
    else:
        kinds, records = ("squad_train", "squad_eval"), lambda n, seed: _squad_records(n, 16, seed == 1)
    labels = {"tagging": ["O", "B-PER", "I-PER"], "classifier": ["0", "1"]}.get(task)
    extra = {"labels": labels} if labels else None
    return {"data": write_dataset(os.path.join(directory, "train"), kinds[0], config, records(TRAIN_RECORDS, 1),
                                  extra_info=extra),
            "eval_data": write_dataset(os.path.join(directory, "eval"), kinds[1], config, records(EVAL_RECORDS, 2),
                                       extra_info=extra),
            "bert_config": write_bert_config(directory, tiny_config())}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("xla"))
    script = os.path.join(root, "run.py")
    with open(script, "w") as handle:
        handle.write(SCRIPT)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="0",
               PYTHONPATH=os.pathsep.join([ROOT, TESTS, HERE, os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, script, HERE, root, ",".join(TASKS)], capture_output=True, text=True,
                            timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-4000:]
    line = [text for text in result.stdout.splitlines() if text.startswith("RESULTS ")][0]
    return {"results": json.loads(line[len("RESULTS "):]), "log": result.stderr, "root": root}


def test_xla_compiled_the_steps(compiled):
    assert "Compiled cluster using XLA" in compiled["log"]


@pytest.mark.parametrize("task", TASKS)
def test_task_steps_compile_with_xla_in_bfloat16(compiled, task):
    outcome = compiled["results"][task]
    assert outcome["precision"] == "mixed_bfloat16"
    assert len(outcome["losses"]) == 1 and math.isfinite(outcome["losses"][0]) and outcome["losses"][0] > 0
    if task == "squad":  # one logits line per evaluation feature, padding rows left out
        with open(os.path.join(compiled["root"], task, "out", "squad_logits.jsonl")) as handle:
            ids = [json.loads(line)["unique_id"] for line in handle]
        assert sorted(ids) == [1000 + index for index in range(EVAL_RECORDS)]
    else:
        assert outcome["eval"]["examples"] == EVAL_RECORDS
        assert math.isfinite(outcome["eval"]["loss"])
