"""`embed`: text → sentence vectors (and token vectors on request) in Parquet, with any BERT model.

The model (Hugging Face directory, Google checkpoint directory, or a `bertprep train`/`export`
output) is loaded once per worker in `DoFn.setup`; texts arrive in batches from BatchElements.
Output: `embeddings-SSSSS-of-NNNNN.parquet` with columns `id` (the input's line or record number),
`source` (the input file) and `embedding` (fixed-size list of float32), plus `tokens` and
`token_embeddings` (per real token, float16 or float32) with `--token-vectors`; `info.json`,
`dead_letters/` and `_COMPLETE` as every bertprep job.
"""
import argparse
import os
import time

import apache_beam as beam

from bertprep.errors import BertprepError
from bertprep.io import beam_io, readers
from bertprep.io import output as output_lib
from bertprep.seeding import stable_hash

COMMAND = "embed"
HELP = "text → sentence (and token) vectors in Parquet with a BERT model"
ACCEPTS_BEAM_ARGS = True
KIND = "embeddings"
TOKEN_VECTOR_TYPES = ("none", "float16", "float32")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from bertprep.pipelines.common import add_common_job_arguments
    from bertprep.trainer.inference import POOLINGS

    add_common_job_arguments(parser, vocab=True, input_help="text (one sentence a line), JSONL, TSV/CSV or "
                             "Parquet file(s); glob or comma-separated list")
    group = parser.add_argument_group("embed options")
    group.add_argument("--model", required=True, help="Hugging Face BERT directory, Google checkpoint directory or "
                       "prefix, or a `bertprep train`/`export` output (its vocab.txt is used unless --vocab)")
    group.add_argument("--bert-config", help="BERT config file when it is not beside the model")
    group.add_argument("--pooling", choices=POOLINGS, default="mean", help="cls: last layer at [CLS]; mean: last "
                       "layer averaged over real tokens; second-to-last-mean: the layer before, averaged")
    group.add_argument("--max-seq-length", type=int, default=128, help="longer inputs are truncated")
    group.add_argument("--batch-size", type=int, default=64, help="most texts per model call")
    group.add_argument("--token-vectors", choices=TOKEN_VECTOR_TYPES, default="none",
                       help="also write each real token's last-layer vector, in this precision")
    group.add_argument("--format", choices=readers.FORMATS, default=None, help="input format (default: from the "
                       "file extension, else text)")
    group.add_argument("--text-field", default="text", help="JSONL field / CSV, TSV or Parquet column with the text")
    group.add_argument("--header", action=argparse.BooleanOptionalAction, default=True,
                       help="CSV/TSV files start with a header row")


def _read_fn(config):
    fmt, field, header = config.get("format"), config.get("text_field", "text"), config.get("header", True)

    def read(path):
        chosen = fmt or readers.guess_format(path)
        if chosen == "jsonl":
            return readers.iter_jsonl(path, field)
        if chosen in ("tsv", "csv", "parquet"):
            return readers.iter_file(path, chosen, columns={"text": field}, header=header)
        return readers.iter_file(path, chosen)

    return read


def record_text(record) -> str:
    """The text of a reader Record (tables give {"text": cell}, Parquet the row dict)."""
    value = record.value
    if isinstance(value, dict):
        value = value.get("text", next(iter(value.values()), None) if len(value) == 1 else None)
    if not isinstance(value, str):
        raise ValueError("not text: %r" % (type(value).__name__,))
    return value


def encode_texts(tokenizer, texts, max_seq_length):
    """[CLS] tokens [SEP], truncated, padded to the batch's longest (a multiple of 8): ids, mask, tokens."""
    import numpy as np

    cls_id, sep_id = tokenizer.convert_tokens_to_ids(["[CLS]", "[SEP]"])
    token_lists = [["[CLS]"] + tokens[: max_seq_length - 2] + ["[SEP]"] for tokens in tokenizer.tokenize_batch(texts)]
    longest = max(len(tokens) for tokens in token_lists)
    width = min(max_seq_length, (longest + 7) // 8 * 8)
    ids = np.zeros((len(texts), width), np.int32)
    mask = np.zeros((len(texts), width), np.int32)
    for row, tokens in enumerate(token_lists):
        ids[row, : len(tokens)] = tokenizer.convert_tokens_to_ids(tokens)
        mask[row, : len(tokens)] = 1
    return ids, mask, token_lists


class EmbedBatch(beam.DoFn):
    """A batch of Records → one output row per record (dead letters for records without text)."""

    def __init__(self, config):
        self._config = config
        self._embedded = beam.metrics.Metrics.counter("bertprep", "texts_embedded")

    def setup(self):
        from bertprep.pipelines.common import load_job_tokenizer
        from bertprep.trainer.inference import Embedder, find_vocab

        config = dict(self._config)
        self._embedder = Embedder(config["model"], config.get("pooling", "mean"), config.get("bert_config"))
        if not config.get("vocab") and not config.get("spm_model"):
            config["vocab"] = find_vocab(config["model"])
        self._tokenizer = load_job_tokenizer(config)

    def process(self, batch):
        good, texts = [], []
        for record in batch:
            try:
                texts.append(record_text(record))
                good.append(record)
            except ValueError as error:
                yield beam.pvalue.TaggedOutput("dead", readers.DeadLetter(record.source, record.line,
                                                                          "no text: %s" % error, repr(record.value)))
        if not good:
            return
        ids, mask, token_lists = encode_texts(self._tokenizer, texts, int(self._config.get("max_seq_length", 128)))
        sentence, token_vectors = self._embedder.embed(ids, mask)
        precision = self._config.get("token_vectors", "none")
        for row, record in enumerate(good):
            out = {"id": record.line, "source": record.source, "embedding": sentence[row].tolist()}
            if precision != "none":
                real = int(mask[row].sum())
                out["tokens"] = token_lists[row]
                out["token_embeddings"] = token_vectors[row, :real].astype(precision)
            self._embedded.inc()
            yield out


def parquet_schema(hidden_size, token_vectors="none"):
    import pyarrow as pa

    fields = [pa.field("id", pa.int64()), pa.field("source", pa.string()),
              pa.field("embedding", pa.list_(pa.float32(), hidden_size))]
    if token_vectors != "none":
        value_type = pa.float16() if token_vectors == "float16" else pa.float32()
        fields += [pa.field("tokens", pa.list_(pa.string())),
                   pa.field("token_embeddings", pa.list_(pa.list_(value_type, hidden_size)))]
    return pa.schema(fields)


class _WriteParquetShard(beam.DoFn):
    """All rows of one shard, sorted by (source, id), to a temporary name renamed into place."""

    def __init__(self, directory, num_shards, hidden_size, token_vectors):
        self._args = (directory, num_shards, hidden_size, token_vectors)

    def process(self, shard_rows):
        import numpy as np
        import pyarrow as pa
        import pyarrow.parquet as pq

        directory, num_shards, hidden_size, token_vectors = self._args
        index, rows = shard_rows
        rows = sorted((row for row in rows if row is not None), key=lambda row: (row["source"], row["id"]))
        schema = parquet_schema(hidden_size, token_vectors)
        columns = {"id": pa.array([row["id"] for row in rows], pa.int64()),
                   "source": pa.array([row["source"] for row in rows], pa.string()),
                   "embedding": pa.FixedSizeListArray.from_arrays(
                       pa.array(np.asarray([row["embedding"] for row in rows], np.float32).reshape(-1)), hidden_size)}
        if token_vectors != "none":
            value_type = schema.field("token_embeddings").type
            columns["tokens"] = pa.array([row["tokens"] for row in rows], pa.list_(pa.string()))
            flat = np.concatenate([row["token_embeddings"] for row in rows]).reshape(-1) if rows else \
                np.zeros(0, token_vectors)
            per_token = pa.FixedSizeListArray.from_arrays(pa.array(flat), hidden_size)
            offsets = np.cumsum([0] + [len(row["tokens"]) for row in rows]).astype(np.int32)
            columns["token_embeddings"] = pa.ListArray.from_arrays(pa.array(offsets), per_token).cast(value_type)
        table = pa.Table.from_pydict(columns, schema=schema)
        path = output_lib.join(directory, output_lib.shard_name(KIND, index, num_shards, ".parquet"))
        buffer = pa.BufferOutputStream()
        pq.write_table(table, buffer)
        with output_lib.ShardWriter(path, framing="raw") as writer:  # temporary name, renamed on close
            writer.write(buffer.getvalue().to_pybytes())
        yield {"path": path, "records": len(rows), "shard": index}


def build_pipeline(pipeline, config):
    from bertprep.trainer.inference import find_bert_config
    from bertprep.trainer.config import BertConfig

    hidden_size = BertConfig.from_json_file(config.get("bert_config") or find_bert_config(config["model"])).hidden_size
    num_shards = int(config.get("num_shards") or 1)
    token_vectors = config.get("token_vectors", "none")
    read = pipeline | "Read" >> beam_io.ReadRecords(config["input"], _read_fn(config))
    embedded = (read[beam_io.RECORDS]
                | "Batch" >> beam.BatchElements(min_batch_size=1, max_batch_size=int(config.get("batch_size", 64)))
                | "Embed" >> beam.ParDo(EmbedBatch(config)).with_outputs("dead", main="rows"))
    keyed = embedded.rows | "AssignShard" >> beam.Map(
        lambda row: (stable_hash(b"shard", row["source"], row["id"]) % num_shards, row))
    every_shard = pipeline | "EveryShard" >> beam.Create([(index, None) for index in range(num_shards)])
    shards = ((keyed, every_shard) | "WithEmptyShards" >> beam.Flatten()
              | "GroupShard" >> beam.GroupByKey()
              | "WriteShard" >> beam.ParDo(_WriteParquetShard(config["output"], num_shards, hidden_size,
                                                              token_vectors)))
    dead = (read[beam_io.DEAD_LETTERS], embedded.dead) | "AllDead" >> beam.Flatten()
    dead_counts = dead | "WriteDead" >> beam_io.WriteDeadLetters(config["output"])
    info = {"config": config, "embedding_dim": hidden_size, "pooling": config.get("pooling", "mean"),
            "format": "parquet", "columns": parquet_schema(hidden_size, token_vectors).names}
    _ = {"shards": shards, "dead_letter_counts": dead_counts,
         "counts": {"read": beam_io.count_inputs(read), "written": beam_io.count(embedded.rows, "CountWritten")},
         } | "Finalize" >> beam_io.Finalize(config["output"], KIND, info, num_shards=0)


def run(args) -> int:
    from bertprep.pipelines.common import config_from_args, is_dry_run, run_job

    config = config_from_args(args)
    if not os.path.exists(config["model"]) and not os.path.exists(config["model"] + ".index"):
        raise BertprepError("%s: model not found" % config["model"])
    directory = output_lib.OutputDirectory(config["output"], overwrite=config.get("overwrite", False))
    directory.prepare()
    started = time.time()
    run_job(build_pipeline, config, getattr(args, "beam_args", None))
    if is_dry_run(getattr(args, "beam_args", None)):  # the job was built, not run: nothing to count
        return 0
    info = directory.read_info()
    counts = info.get("counts", {})
    print("embedded %d texts (%d dead-lettered) in %.1f s → %s" % (
        counts.get("written", 0), counts.get("dead_lettered", 0), time.time() - started, config["output"]))
    return 0
