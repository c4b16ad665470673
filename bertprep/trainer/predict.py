"""Predictions of a trained classifier or tagging model, one row per example (the original `do_predict`).

The model is a `bertprep train` output or a `bertprep export` (model.json says its task and labels);
the data is a bertprep classifier or tagging output directory, labelled or not. Rows:
- classifier: example_id, label (multi-label: the labels over 0.5 joined by ","; regression: the
  value) and one probability per class (softmax; sigmoid per label for multi-label);
- tagging: example_id and the predicted tag of every word (a word's tag sits on its first piece).
Written as TSV, JSONL or Parquet (a local file), batch by batch, under a temporary name renamed when complete.
"""
import io
import json
import os
from typing import List, Optional

import numpy as np

from bertprep.errors import BertprepError
from bertprep.io import fs
from bertprep.trainer import data as data_lib

TASKS = ("classifier", "tagging")
FORMATS = ("tsv", "jsonl", "parquet")
_EXTENSIONS = {".tsv": "tsv", ".txt": "tsv", ".jsonl": "jsonl", ".json": "jsonl", ".parquet": "parquet"}


def output_format(path: str, requested: str = "auto") -> str:
    if requested != "auto":
        if requested not in FORMATS:
            raise BertprepError(f"unknown --format {requested!r}; expected one of {', '.join(FORMATS)}")
        return requested
    extension = os.path.splitext(path)[1].lower()
    if extension not in _EXTENSIONS:
        raise BertprepError(f"{path}: cannot tell the format from the extension {extension or '(none)'!r}; "
                            f"use .tsv, .jsonl or .parquet, or pass --format")
    return _EXTENSIONS[extension]


class RowWriter:
    """Rows (dicts with the same keys) to a TSV, JSONL or Parquet file, local or gs://; `close()` publishes the
    finished file under its name (fs.replace), so a stopped run never leaves a partial file there."""

    def __init__(self, path: str, fmt: str):
        self.path, self.fmt = path, fmt
        self.temporary = path + ".incomplete"
        if not fs.is_remote(path):  # an object store has no directories to check
            directory = fs.dirname(os.path.abspath(path))
            if not fs.is_dir(directory):
                raise BertprepError(f"{path}: directory {directory} does not exist")
        self.raw = fs.open_write(self.temporary)
        self.handle = None if fmt == "parquet" else io.TextIOWrapper(self.raw, encoding="utf-8")
        self.parquet = None
        self.columns: Optional[List[str]] = None
        self.rows = 0

    def write(self, rows: List[dict]) -> None:
        if not rows:
            return
        if self.columns is None:
            self.columns = list(rows[0])
            if self.fmt == "tsv":
                self.handle.write("\t".join(self.columns) + "\n")
        if self.fmt == "jsonl":
            self.handle.write("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
        elif self.fmt == "tsv":
            self.handle.write("".join("\t".join(_tsv_cell(row[name]) for name in self.columns) + "\n"
                                      for row in rows))
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pylist([{name: row[name] for name in self.columns} for row in rows])
            if self.parquet is None:
                self.parquet = pq.ParquetWriter(self.raw, table.schema)
            self.parquet.write_table(table.cast(self.parquet.schema))
        self.rows += len(rows)

    def close(self) -> None:
        if self.parquet is not None:
            self.parquet.close()
        # Parquet with no rows: the raw file closes empty, an empty file rather than a missing one.
        (self.handle or self.raw).close()
        fs.replace(self.temporary, self.path)

    def abort(self) -> None:
        try:
            if self.parquet is not None:
                self.parquet.close()
            (self.handle or self.raw).close()
        finally:
            fs.delete([self.temporary])


def _tsv_cell(value) -> str:
    if isinstance(value, (list, tuple)):
        return " ".join(str(item) for item in value)
    if isinstance(value, float):
        return format(value, ".6g")
    return str(value)


def _classifier_rows(batch, description, names) -> List[dict]:
    rows = []
    keep = batch["weight"].astype(bool) if "weight" in batch else np.ones(len(batch["predicted"]), bool)
    ids = batch.get("example_id", np.full(len(keep), -1))
    for index in np.nonzero(keep)[0]:
        probabilities = batch["probabilities"][index]
        if description.get("regression"):
            row = {"example_id": int(ids[index]), "label": float(batch["predicted"][index])}
        elif description.get("multi_label"):
            chosen = [names[i] for i, on in enumerate(batch["predicted"][index]) if on]
            row = {"example_id": int(ids[index]), "label": ",".join(chosen)}
        else:
            row = {"example_id": int(ids[index]), "label": names[int(batch["predicted"][index])]}
        if not description.get("regression"):
            for name, probability in zip(names, probabilities):
                row["prob_" + name] = round(float(probability), 6)
        rows.append(row)
    return rows


def _tagging_rows(batch, names) -> List[dict]:
    rows = []
    for example_id, predicted, weights in zip(batch["example_id"], batch["predicted"], batch["weight"]):
        rows.append({"example_id": int(example_id), "tags": [names[int(tag)] for tag in predicted[weights > 0]]})
    return rows


def _check_input_meaning(model_path, info) -> None:
    """The input must mean by each id what the model does (model.json: labels, vocabulary, length), before
    any TensorFlow work; unlabelled input states no labels and is not compared on them."""
    from bertprep.trainer.loop import MODEL_FILE, read_model_description

    directory = model_path if fs.is_dir(model_path) else fs.dirname(model_path)
    description = read_model_description(directory)
    if description:
        data_lib.check_same_meaning(f"the model {directory} ({MODEL_FILE})", description, f"the input {info.path}",
                                    data_lib.data_meaning(info),
                                    ("labels", "vocab_fingerprint", "max_seq_length", "multi_label", "regression"))


def predict(task: str, model_path: str, data_path: str, output_path: str, fmt: str = "auto", batch_size: int = 32,
            bert_config_path: Optional[str] = None, log=print) -> dict:
    """Write one prediction row per example of `data_path`; returns {"rows", "output", "format"}."""
    if task not in TASKS:
        raise BertprepError(f"unknown --task {task!r}; expected one of {', '.join(TASKS)}")
    fmt = output_format(output_path, fmt)
    from bertprep.trainer.loading import load_task_model, require_model

    require_model(model_path)
    info = data_lib.read_dataset_info(data_path)
    _check_input_meaning(model_path, info)
    from bertprep.trainer.quiet import import_tensorflow

    tf = import_tensorflow()
    from bertprep.trainer import tasks

    loaded = load_task_model(model_path, bert_config_path, task=task)
    model, description = loaded.model, loaded.description
    num_labels = int(description.get("num_labels") or 0)
    data_lib.check_compatible(info, task, loaded.bert_config,
                              num_labels=None if description.get("regression") else num_labels)
    labels = description.get("labels") or info.labels
    names = [str(name) for name in labels] if labels and len(labels) == num_labels else \
        [str(index) for index in range(num_labels)]
    multi_label, regression = bool(description.get("multi_label")), bool(description.get("regression"))

    @tf.function
    def predict_step(features):
        outputs = model(features, training=False)
        return tasks.eval_outputs(task, outputs, features, multi_label, regression)

    writer = RowWriter(output_path, fmt)
    try:
        for features in data_lib.make_dataset(info, batch_size, training=False):
            batch = {name: np.asarray(value) for name, value in predict_step(features).items()}
            rows = _classifier_rows(batch, description, names) if task == "classifier" else _tagging_rows(batch, names)
            writer.write(rows)
    except BaseException:
        writer.abort()
        raise
    writer.close()
    log(f"wrote {writer.rows} {task} predictions to {output_path} ({fmt})")
    return {"rows": writer.rows, "output": output_path, "format": fmt}
