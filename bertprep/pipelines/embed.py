"""`embed`: text → sentence vectors (and token vectors on request) in Parquet, with any BERT model.

The model (Hugging Face directory, Google checkpoint directory, or a `bertprep train`/`export`
output) is loaded once per worker in `DoFn.setup`. Its maximum length, pooling and normalisation are
the model directory's own (sentence-transformers files) unless options say otherwise; info.json
records each value and where it came from. Texts travel in sort windows (`--sort-window`), spread
over workers; inside one, they are sorted by length so that each batch is padded only to its
longest text (`trainer.inference`), and the vectors leave as numpy columns per output shard, so
the model's path holds no per-row Python work; the Parquet files are written after a GroupByKey.
Output: `embeddings-SSSSS-of-NNNNN.parquet` with columns `id` (the input's line or record number),
`source` (the input file) and `embedding` (fixed-size list of float32), plus `tokens` and
`token_embeddings` (per real token, float16 or float32) with `--token-vectors`; `info.json`,
`dead_letters/` and `_COMPLETE` as every bertprep job.
"""
import dataclasses
import os
from typing import TYPE_CHECKING, Optional, Tuple

import apache_beam as beam

from bertprep.io import beam_io, formats
from bertprep.schemas import tables
from bertprep.io import output as output_lib
from bertprep.errors import BertprepError
from bertprep.options.embed import EmbedOptions
from bertprep.pipelines.registry import JobOutputs
from bertprep.seeding import stable_hash

if TYPE_CHECKING:  # trainer.inference imports numpy: only when the job runs
    from bertprep.trainer.inference import EmbeddingSettings

KIND = "embeddings"


def _read_fn(options: EmbedOptions):
    def read(path):
        chosen = options.format or formats.guess_format(path)
        if chosen == "jsonl":
            return formats.iter_jsonl(path, options.text_field)
        if chosen in ("tsv", "csv", "parquet"):
            return formats.iter_file(path, chosen, columns={"text": options.text_field}, header=options.header)
        return formats.iter_file(path, chosen)

    return read


def record_text(record) -> str:
    """The text of a reader Record (tables give {"text": cell}, Parquet the row dict)."""
    value = record.value
    if isinstance(value, dict):
        value = value.get("text", next(iter(value.values()), None) if len(value) == 1 else None)
    if not isinstance(value, str):
        raise ValueError("not text: %r" % (type(value).__name__,))
    return value


def token_lists(tokenizer, texts, max_seq_length):
    """[CLS] tokens [SEP] per text, truncated to `max_seq_length` tokens in all."""
    return [["[CLS]"] + tokens[: max_seq_length - 2] + ["[SEP]"] for tokens in tokenizer.tokenize_batch(texts)]


@dataclasses.dataclass
class EmbeddedRows:
    """Output rows of one shard from one sort window, as columns (cheap to pass between Beam stages)."""

    ids: list
    sources: list
    embeddings: object  # numpy float32 [rows, hidden]
    tokens: list = None  # with --token-vectors: each row's tokens and their [tokens, hidden] vectors
    token_embeddings: list = None


def cores_per_worker(options: EmbedOptions) -> int:
    """This machine's cores shared among the local workers (a remote worker has its own machine)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores // int(options.workers or 1)) if options.is_local else cores


INPUT_BYTES_PER_SHARD = 4 << 20
TOKEN_VECTOR_SHARD_DIVISOR = 32


@dataclasses.dataclass(frozen=True)
class EmbedPlan:
    """What the job derives from its options and the model directory, once, before Beam starts."""

    settings: "EmbeddingSettings"  # max_seq_length, pooling, normalize, lower, and where each came from
    bert_config: str  # the BERT config file read (--bert-config, else the one beside the model)
    hidden_size: int
    vocab: Optional[str]  # --vocab, else the model's vocab.txt; None with --spm-model
    num_shards: int  # --num-shards, else from the input size
    input_paths: Tuple[str, ...]  # the files --input matches, listed once

    def info_config(self, options: EmbedOptions) -> dict:
        """info.json's `config`: the options, with the case setting as used (as it was recorded before the
        model's tokenizer_config.json could decide it)."""
        return {**options.to_config(), "lower": self.settings.lower}


def plan(options: EmbedOptions) -> EmbedPlan:
    """The model's settings (options first, then its files), its vocabulary and the shard count; a missing
    model, vocabulary or input, or a setting the model cannot take, is one line here, before any output."""
    from bertprep.io import fs
    from bertprep.io.output import default_num_shards
    from bertprep.trainer.config import BertConfig
    from bertprep.trainer.inference import find_bert_config, find_vocab, resolve_settings
    from bertprep.trainer.loading import require_model

    require_model(options.model)
    bert_config_path = options.bert_config or find_bert_config(options.model)
    bert_config = BertConfig.from_json_file(bert_config_path)
    settings = resolve_settings(options.model, bert_config, options.max_seq_length, options.pooling,
                                options.normalize, options.lower)
    vocab = options.vocab
    if not vocab and not options.spm_model:
        vocab = find_vocab(options.model)
        if not vocab:
            raise BertprepError("%s: no vocab.txt beside the model; give --vocab (WordPiece vocab.txt) or "
                                "--spm-model (SentencePiece .model)" % options.model)
    input_paths = tuple(fs.match(options.input))  # an input that matches nothing fails here, before any output
    num_shards = options.num_shards
    if not num_shards:
        per_shard = INPUT_BYTES_PER_SHARD // (TOKEN_VECTOR_SHARD_DIVISOR if options.wants_token_vectors else 1)
        num_shards = default_num_shards(fs.total_size(input_paths), per_shard)
    return EmbedPlan(settings, bert_config_path, bert_config.hidden_size, vocab, num_shards, input_paths)


def load_embed_tokenizer(options: EmbedOptions, plan: EmbedPlan):
    """The tokenizer with the vocabulary and case setting the plan resolved."""
    return options.resolved(vocab=plan.vocab, lower=plan.settings.lower).load_tokenizer()


class EmbedWindow(beam.DoFn):
    """A sort window of Records → (shard, EmbeddedRows) pairs; dead letters for records without text."""

    def __init__(self, options: EmbedOptions, plan: EmbedPlan):
        self._options = options
        self._plan = plan
        self._embedded = beam.metrics.Metrics.counter("bertprep", "texts_embedded")

    def setup(self):
        from bertprep.trainer.inference import Embedder, use_cores

        options, plan = self._options, self._plan
        use_cores(cores_per_worker(options))
        self._embedder = Embedder(options.model, plan.settings, plan.bert_config, batch_size=options.batch_size,
                                  token_vectors=options.wants_token_vectors)
        self._tokenizer = load_embed_tokenizer(options, plan)

    def process(self, window):
        good, texts = [], []
        for record in window:
            try:
                texts.append(record_text(record))
                good.append(record)
            except ValueError as error:
                yield beam.pvalue.TaggedOutput("dead", formats.DeadLetter(record.source, record.line,
                                                                          "no text: %s" % error, repr(record.value)))
        if not good:
            return
        tokens = token_lists(self._tokenizer, texts, self._plan.settings.max_seq_length)
        embedded = self._embedder.embed_ids([self._tokenizer.convert_tokens_to_ids(row) for row in tokens])
        num_shards = self._plan.num_shards
        by_shard = {}
        for row, record in enumerate(good):
            by_shard.setdefault(stable_hash(b"shard", record.source, record.line) % num_shards, []).append(row)
        for shard, rows in sorted(by_shard.items()):
            block = EmbeddedRows([good[row].line for row in rows], [good[row].source for row in rows],
                                 embedded.sentence[rows])
            if self._options.wants_token_vectors:
                block.tokens = [tokens[row] for row in rows]
                block.token_embeddings = [embedded.tokens[row].astype(self._options.token_vectors) for row in rows]
            yield shard, block
        self._embedded.inc(len(good))


parquet_schema = tables.embeddings_table  # the layout lives in bertprep/schemas/tables.py


class _ParquetSink:
    """A write-only file over a ShardWriter, so that pyarrow streams row groups into the shard."""

    def __init__(self, writer):
        self._writer, self._position, self.closed = writer, 0, False

    def write(self, data):
        data = bytes(data)
        self._writer.write(data)
        self._position += len(data)
        return len(data)

    def tell(self):
        return self._position

    def flush(self):
        pass

    def close(self):
        self.closed = True


class _ParquetShardWriter:
    """All rows of one shard, sorted by (source, id), to a temporary name renamed into place.

    Written ROW_GROUP rows at a time, so that the shard exists only once in memory (as its blocks)."""

    ROW_GROUP = 8192

    def __init__(self, directory, num_shards, hidden_size, token_vectors):
        self._args = (directory, num_shards, hidden_size, token_vectors)

    def __call__(self, index, blocks):
        import numpy as np
        import pyarrow as pa
        import pyarrow.parquet as pq

        directory, num_shards, hidden_size, token_vectors = self._args
        # Per-row views into the blocks (no copy of the vectors); each row group gathers its own rows.
        ids = [row_id for block in blocks for row_id in block.ids]
        sources = [source for block in blocks for source in block.sources]
        vectors = [vector for block in blocks for vector in block.embeddings]
        if token_vectors != "none":
            tokens = [row_tokens for block in blocks for row_tokens in block.tokens]
            token_embeddings = [row_vectors for block in blocks for row_vectors in block.token_embeddings]
        order = sorted(range(len(ids)), key=lambda row: (sources[row], ids[row]))
        schema = parquet_schema(hidden_size, token_vectors)
        path = output_lib.join(directory, output_lib.shard_name(KIND, index, num_shards, ".parquet"))
        with output_lib.ShardWriter(path, framing="raw") as shard:  # temporary name, renamed on close
            with pq.ParquetWriter(_ParquetSink(shard), schema) as writer:
                for start in range(0, max(len(order), 1), self.ROW_GROUP):
                    rows = order[start:start + self.ROW_GROUP]
                    embedding = np.stack([vectors[row] for row in rows]) if rows else \
                        np.zeros((0, hidden_size), np.float32)
                    columns = {"id": pa.array([ids[row] for row in rows], pa.int64()),
                               "source": pa.array([sources[row] for row in rows], pa.string()),
                               "embedding": pa.FixedSizeListArray.from_arrays(pa.array(embedding.reshape(-1)),
                                                                              hidden_size)}
                    if token_vectors != "none":
                        value_type = schema.field("token_embeddings").type
                        columns["tokens"] = pa.array([tokens[row] for row in rows], pa.list_(pa.string()))
                        flat = np.concatenate([token_embeddings[row] for row in rows]).reshape(-1) if rows else \
                            np.zeros(0, token_vectors)
                        per_token = pa.FixedSizeListArray.from_arrays(pa.array(flat), hidden_size)
                        offsets = np.cumsum([0] + [len(tokens[row]) for row in rows]).astype(np.int32)
                        columns["token_embeddings"] = pa.ListArray.from_arrays(pa.array(offsets),
                                                                               per_token).cast(value_type)
                    writer.write_table(pa.Table.from_pydict(columns, schema=schema))
        yield {"path": path, "records": len(order), "shard": index}


def build_pipeline(pipeline, options: EmbedOptions, plan: EmbedPlan) -> JobOutputs:
    """The job's graph; `plan` is `plan(options)` (the model's settings, vocabulary, shard count)."""
    settings, hidden_size, num_shards = plan.settings, plan.hidden_size, plan.num_shards
    token_vectors = options.token_vectors
    window = options.sort_window
    read = pipeline | "Read" >> beam_io.ReadRecords(list(plan.input_paths), _read_fn(options))
    embedded = (read[beam_io.RECORDS]
                | "Window" >> beam.BatchElements(min_batch_size=window, max_batch_size=window)
                # One file is read by one worker: spreading its windows lets every worker embed.
                | "SpreadWindows" >> beam.Reshuffle()
                | "Embed" >> beam.ParDo(EmbedWindow(options, plan)).with_outputs("dead", main="rows"))
    shards = embedded.rows | "Write" >> beam_io.WriteEveryShard(
        num_shards, _ParquetShardWriter(options.output, num_shards, hidden_size, token_vectors))
    dead = (read[beam_io.DEAD_LETTERS], embedded.dead) | "AllDead" >> beam.Flatten()
    dead_counts = dead | "WriteDead" >> beam_io.WriteDeadLetters(options.output)
    written = (shards | "RecordsPerShard" >> beam.Map(lambda result: result["records"])
               | "CountWritten" >> beam.CombineGlobally(sum))
    info = {"config": plan.info_config(options), "embedding_dim": hidden_size, "pooling": settings.pooling,
            "max_seq_length": settings.max_seq_length, "normalize": settings.normalize,
            "settings": settings.to_info(), "format": "parquet",
            "columns": parquet_schema(hidden_size, token_vectors).names}
    return JobOutputs(KIND, info, shards=shards, dead_letter_counts=dead_counts, read=beam_io.count_inputs(read),
                      written=written)
