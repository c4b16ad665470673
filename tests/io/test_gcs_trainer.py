"""The trainer's own reads and writes on gs:// (a local Cloud Storage emulator), through the storage door.

What a TPU run reads and writes besides tensors: the dataset's info.json, marker and shard list
(`--data/--eval-data gs://…`), the BERT config and model.json beside a checkpoint (`--init-checkpoint`,
`export`, `predict`), the training log it appends to, eval results, the training report, and prediction
files (`predict --output gs://…`, TSV/JSONL/Parquet). Each is checked on gs:// against the same call on
local disk.

Not tested here: the tensors themselves. `tf.data.TFRecordDataset` and `tf.train.Checkpoint` read and
write gs:// through TensorFlow's own GCS file system, which has its endpoints compiled in
(`https://www.googleapis.com/storage/v1/`, `.../upload/storage/v1/`; its settings are the GCS_* cache,
timeout and retry variables, none an endpoint) and ignores STORAGE_EMULATOR_HOST: against the emulator,
`tf.io.gfile.exists("gs://…")` fails with "Could not resolve host: www.googleapis.com". The plugin that
would follow an emulator (tensorflow-io-gcs-filesystem 0.37.1, the latest) does not load into TensorFlow
2.21 ("undefined symbol: TF_VLog"). See the README's path table.
"""
import json

import pyarrow.parquet as pq
import pytest

from bertprep.errors import BertprepError
from bertprep.io import fs
from bertprep.trainer import data as data_lib
from bertprep.trainer import loop
from bertprep.trainer.config import BertConfig
from bertprep.trainer.predict import RowWriter

from gcs_emulator import download_tree, gcs_bucket, storage_emulator, upload  # noqa: F401
from trainer_data import classifier_records, tiny_config, write_dataset


def test_trainer_metadata_and_outputs_on_gcs(storage_emulator, gcs_bucket, tmp_path):
    config = {"max_seq_length": 16, "labels": ["neg", "pos"], "vocab_fingerprint": "f" * 64, "vocab_size": 100}
    local = write_dataset(str(tmp_path / "data"), "classifier", config, classifier_records(12), num_shards=2)
    remote = upload(local, gcs_bucket + "/data")
    here, there = data_lib.read_dataset_info(local), data_lib.read_dataset_info(remote)
    assert there.files == [remote + "/" + name.rsplit("/", 1)[-1] for name in here.files]
    assert (there.kind, there.labels, there.num_records, there.compression) == \
        (here.kind, here.labels, here.num_records, here.compression)
    fs.delete([remote + "/_COMPLETE"])
    with pytest.raises(BertprepError, match="no _COMPLETE marker"):
        data_lib.read_dataset_info(remote)

    # Beside a checkpoint: bert_config.json and model.json, written and read back on gs://.
    model_dir = gcs_bucket + "/model"
    bert = tiny_config()
    bert.to_json_file(model_dir + "/bert_config.json")
    assert BertConfig.from_json_file(model_dir) == bert  # a directory: its bert_config.json is found
    options = {"num_labels": 2, "multi_label": False, "regression": False, "labels": ["neg", "pos"]}
    loop.write_model_description(model_dir, "classifier", options)
    assert loop.read_model_description(model_dir)["labels"] == ["neg", "pos"]

    # The training log a run appends to, read back for the curves.
    for step in (1, 2):
        fs.append_bytes(model_dir + "/" + loop.TRAIN_LOG, (json.dumps({"step": step, "loss": 1.0 / step}) + "\n").encode())
    assert [entry["step"] for entry in loop.read_train_log(model_dir)] == [1, 2]

    # Prediction files: the same bytes on gs:// as on disk, published whole by close().
    rows = [{"index": index, "label": "pos" if index % 2 else "neg", "probability": index / 10} for index in range(5)]
    for fmt in ("tsv", "jsonl", "parquet"):
        name = "predictions." + fmt
        for path in (gcs_bucket + "/predict/" + name, str(tmp_path / "predict" / name)):
            fs.makedirs(fs.dirname(path))
            writer = RowWriter(path, fmt)
            writer.write(rows[:2])
            assert not fs.exists(path)  # nothing under the final name until the file is whole
            writer.write(rows[2:])
            writer.close()
    remote_predictions = download_tree(gcs_bucket + "/predict", tmp_path / "remote_predict")
    for name in ("predictions.tsv", "predictions.jsonl", "predictions.parquet"):
        assert (remote_predictions / name).read_bytes() == (tmp_path / "predict" / name).read_bytes(), name
    assert pq.read_table(remote_predictions / "predictions.parquet").to_pylist() == rows
    assert sorted(fs.list_dir(gcs_bucket + "/predict")) == ["predictions.jsonl", "predictions.parquet",
                                                            "predictions.tsv"]
