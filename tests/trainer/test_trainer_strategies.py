"""The loop under MirroredStrategy (two logical CPU devices) and under both mixed-precision policies.

Runs in a subprocess: logical devices must be configured before TensorFlow starts.
"""
import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("tensorflow")

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = r"""
import json, sys, tempfile
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
sys.path.insert(0, sys.argv[1])
from trainer_data import pretraining_records, tiny_config, write_bert_config, write_dataset
from bertprep.trainer.loop import TrainConfig, train
root = tempfile.mkdtemp()
bert_config = write_bert_config(root, tiny_config())
data = write_dataset(root + "/data", "pretraining", {"max_seq_length": 32, "max_predictions_per_seq": 5},
                     pretraining_records(128), num_shards=2)
results = {}
for strategy, precision in (("mirrored", "float32"), ("one_device", "mixed_float16"),
                            ("one_device", "mixed_bfloat16")):
    summary = train(TrainConfig(task="pretraining", data=data, eval_data=data, bert_config=bert_config,
                                output=root + "/" + strategy + precision, train_batch_size=16, learning_rate=1e-3,
                                num_train_steps=40, steps_per_loop=20, log_every=20, strategy=strategy,
                                precision=precision, verbose=False))
    results[strategy + "/" + precision] = {"replicas": summary["replicas"], "precision": summary["precision"],
                                           "losses": [entry["loss"] for entry in summary["losses"]],
                                           "accuracy": summary["eval"]["masked_lm_accuracy"]}
print("RESULTS " + json.dumps(results))
"""


def test_mirrored_and_mixed_precision_training(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.dirname(HERE), os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, str(script), HERE], capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-4000:]
    line = [text for text in result.stdout.splitlines() if text.startswith("RESULTS ")][0]
    results = json.loads(line[len("RESULTS "):])
    print(results)
    assert results["mirrored/float32"]["replicas"] == 2
    for name, outcome in results.items():
        first, last = outcome["losses"]
        assert 4.0 < first < 6.0 and last < first - 0.1, name  # finite, falling (float16 with loss scaling too)
    baseline = results["mirrored/float32"]["losses"][-1]
    for name in ("one_device/mixed_float16", "one_device/mixed_bfloat16"):
        assert abs(results[name]["losses"][-1] - baseline) < 0.1, name
