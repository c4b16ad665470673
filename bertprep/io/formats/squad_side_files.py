"""The SQuAD side files of `bertprep squad --split eval`, written and read here, and the logits files
`squad-predict` reads beside them.

squad_features-SSSSS-of-NNNNN (unique_id, example_index, qas_id, doc_span_index, doc_span_start, tokens,
token_to_orig_map, token_is_max_context) and squad_examples-SSSSS-of-NNNNN (qas_id, question, context,
doc_tokens, word character spans, gold answers), as JSONL or Parquet (layouts: schemas/tables.py).
The squad job writes them (`write_side_file`, one shard at a time); squad-predict reads them back
(`read_side_files`) with the logits (`read_logits`), local or gs:// (through bertprep.io.fs).
"""
import io
import json
from collections import defaultdict
from typing import Dict, List

from bertprep.errors import BertprepError
from bertprep.io import fs
from bertprep.io import output as output_lib
from bertprep.io.formats.jsonl import iter_jsonl
from bertprep.io.formats.parquet import iter_parquet
from bertprep.io.records import DeadLetter
from bertprep.schemas import tables

SIDE_FEATURES = "squad_features"
SIDE_EXAMPLES = "squad_examples"


def side_file_names(file_format: str, shards: int) -> dict:
    """info.json's `side_files`: the format and every file of both tables, one per shard."""
    suffix = ".parquet" if file_format == "parquet" else ".jsonl"
    return {"format": file_format,
            "features": [output_lib.shard_name(SIDE_FEATURES, i, shards, suffix) for i in range(shards)],
            "examples": [output_lib.shard_name(SIDE_EXAMPLES, i, shards, suffix) for i in range(shards)]}


def feature_row_json(row: dict) -> dict:
    """A side-file feature row as JSON (map keys become strings, as in the reference's logs and goldens)."""
    row = dict(row)
    row["token_to_orig_map"] = {str(k): v for k, v in row["token_to_orig_map"].items()}
    row["token_is_max_context"] = {str(k): v for k, v in row["token_is_max_context"].items()}
    return row


def parquet_bytes(rows, table: str) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as parquet

    if table == SIDE_FEATURES:
        schema = tables.squad_side_features_table(bool(rows and "start_position" in rows[0]))
        data = {name: [row[name] for row in rows] for name in schema.names}
        for name in ("token_to_orig_map", "token_is_max_context"):
            data[name] = [sorted(mapping.items()) for mapping in data[name]]
    else:
        schema = tables.squad_side_examples_table()
        data = {name: [row[name] for row in rows] for name in schema.names}
    buffer = io.BytesIO()
    parquet.write_table(pa.table(data, schema=schema), buffer)
    return buffer.getvalue()


def write_side_file(path: str, rows, table: str, file_format: str) -> dict:
    """One side file (an empty one too), under a temporary name renamed into place."""
    if file_format == "parquet":
        output_lib.write_bytes_atomically(path, parquet_bytes(rows, table))
    else:
        with output_lib.ShardWriter(path, framing="lines") as writer:
            for row in rows:
                row = feature_row_json(row) if table == SIDE_FEATURES else row
                writer.write((json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8"))
    return {"table": table, "file": path.rsplit("/", 1)[-1], "rows": len(rows)}


def _int_keys(mapping) -> dict:
    if isinstance(mapping, list):  # Parquet maps come back as (key, value) pairs
        return {int(key): value for key, value in mapping}
    return {int(key): value for key, value in mapping.items()}


def read_rows(path: str):
    """Rows of a JSONL or Parquet file; an unreadable line is an error naming the file and line."""
    if path.endswith(".parquet"):
        for item in iter_parquet(path):
            yield item.value
        return
    for item in iter_jsonl(path):
        if isinstance(item, DeadLetter):
            raise BertprepError("%s line %d: %s" % (path, item.line, item.reason))
        yield item.value


def read_side_files(directory: str):
    """(info, examples by example_index, features grouped by example_index) of a complete eval output."""
    out = output_lib.OutputDirectory(directory)
    if not out.is_complete():
        raise BertprepError("%s is not a complete output (no %s marker)" % (directory, output_lib.COMPLETE_MARKER))
    info = out.read_info()
    names = info.get("side_files")
    if not names:
        raise BertprepError("%s has no side files: make it with `bertprep squad --split eval`" % directory)
    examples = {}
    for name in names["examples"]:
        for row in read_rows(out.file(name)):
            row["word_spans"] = [tuple(span) for span in row["word_spans"]]
            examples[int(row["example_index"])] = row
    features: Dict[int, List[dict]] = defaultdict(list)
    for name in names["features"]:
        for row in read_rows(out.file(name)):
            row["token_to_orig_map"] = _int_keys(row["token_to_orig_map"])
            row["token_is_max_context"] = _int_keys(row["token_is_max_context"])
            features[int(row["example_index"])].append(row)
    for rows in features.values():
        rows.sort(key=lambda row: row["doc_span_index"])
    return info, examples, features


def read_logits(pattern: str) -> dict:
    """Logits files (JSONL or Parquet rows of unique_id, start_logits, end_logits) → {unique_id: logits}."""
    results = {}
    for path in fs.match(pattern):
        for row in read_rows(path):
            try:
                results[int(row["unique_id"])] = {"start_logits": [float(x) for x in row["start_logits"]],
                                                  "end_logits": [float(x) for x in row["end_logits"]]}
            except (KeyError, TypeError, ValueError) as error:
                raise BertprepError("%s: a logits row lacks unique_id/start_logits/end_logits (%s)"
                                    % (path, error)) from None
    return results
