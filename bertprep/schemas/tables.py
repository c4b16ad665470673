"""The Parquet/TSV table layouts bertprep writes, beside the TFRecord kinds of kinds.py.

A reader (the pretraining job reading mask-probs tables, `squad-predict` reading SQuAD side files,
users' scripts reading embeddings) and the writer take the columns from here. pyarrow is imported
only by the functions that build a pyarrow schema, so importing the layouts costs nothing.
"""
from typing import Dict, List, Tuple

# Per-character counters of the mask-probs job, in this order everywhere (Beam combiner vectors, the
# char_stats table's columns).
CHAR_STAT_FIELDS = (
    "correct_count",            # occurrences on the correct side
    "unchanged_count",          # aligned positions where it was written as itself
    "written_wrong_count",      # times the correct character was written as another one (substitutions)
    "as_wrong_count",           # times it appeared as the wrong character of a substitution
    "deleted_count",            # times the correct character was missing from the wrong sentence
    "inserted_count",           # times it was added in the wrong sentence with no counterpart
    "faspell_unchanged_count",  # FASPell's unchanged count (augmented training text), see mask_probability.py
)

# mask-probs: table name → [(column, pyarrow type name)]; each table is written as .parquet and .tsv.
MASK_PROBS_TABLES: Dict[str, List[Tuple[str, str]]] = {
    "char_stats": [("char", "string")] + [(name, "int64") for name in CHAR_STAT_FIELDS],
    "confusion_pairs": [("correct", "string"), ("wrong", "string"), ("count", "int64")],
    "confusion_sets": [("char", "string"), ("candidate", "string"), ("score", "float64"), ("source", "string"),
                       ("rank", "int64"), ("phonetic_score", "float64"), ("glyph_score", "float64"),
                       ("observed_count", "int64"), ("same_pinyin", "bool_")],
    # Candidates of the kinds (same_pinyin, similar_pinyin, glyph) a character's ranked set lacks, from the
    # own sources' neighbourhoods, so confusion masking can give every kind its share.
    "confusion_kinds": [("char", "string"), ("kind", "string"), ("candidate", "string"), ("score", "float64"),
                        ("rank", "int64")],
    "mask_probability": [("char", "string"), ("faspell_probability", "float64"), ("smoothed_probability", "float64"),
                         ("top_confusion_count", "int64"), ("unchanged_count", "int64"), ("correct_count", "int64"),
                         ("written_wrong_count", "int64")],
}


def mask_probs_table(name: str):
    """The pyarrow schema of one mask-probs table."""
    import pyarrow as pa

    return pa.schema([(column, getattr(pa, kind)()) for column, kind in MASK_PROBS_TABLES[name]])


def embeddings_table(hidden_size: int, token_vectors: str = "none"):
    """The embed job's Parquet shards: one row per input, its sentence vector, and with --token-vectors
    (float16 or float32) the word pieces and their vectors."""
    import pyarrow as pa

    fields = [pa.field("id", pa.int64()), pa.field("source", pa.string()),
              pa.field("embedding", pa.list_(pa.float32(), hidden_size))]
    if token_vectors != "none":
        value_type = pa.float16() if token_vectors == "float16" else pa.float32()
        fields += [pa.field("tokens", pa.list_(pa.string())),
                   pa.field("token_embeddings", pa.list_(pa.list_(value_type, hidden_size)))]
    return pa.schema(fields)


def squad_side_features_table(with_positions: bool):
    """SQuAD's side features (one row per feature: what `squad-predict` maps answers back with); the
    training positions only when the records are training records."""
    import pyarrow as pa

    columns = [
        ("unique_id", pa.int64()), ("example_index", pa.int64()), ("qas_id", pa.string()),
        ("doc_span_index", pa.int64()), ("doc_span_start", pa.int64()), ("tokens", pa.list_(pa.string())),
        ("token_to_orig_map", pa.map_(pa.int64(), pa.int64())),
        ("token_is_max_context", pa.map_(pa.int64(), pa.bool_())),
    ]
    if with_positions:
        columns += [("start_position", pa.int64()), ("end_position", pa.int64()), ("is_impossible", pa.bool_())]
    return pa.schema(columns)


def squad_side_examples_table():
    """SQuAD's side examples (one row per question, with its context's words and their spans)."""
    import pyarrow as pa

    return pa.schema([
        ("example_index", pa.int64()), ("qas_id", pa.string()), ("question_text", pa.string()),
        ("context", pa.string()), ("doc_tokens", pa.list_(pa.string())),
        ("word_spans", pa.list_(pa.list_(pa.int64()))), ("answers", pa.list_(pa.string())),
        ("is_impossible", pa.bool_()), ("title", pa.string()), ("source", pa.string()), ("line", pa.int64()),
    ])
