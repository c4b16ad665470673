"""The mask-probs output tables: their columns, row order, and Parquet/TSV/pickle bytes.

Plain Python (no Beam), so the pretraining job's readers and the tests share one definition of what
`char_stats`, `confusion_pairs`, `confusion_sets` and `mask_probability` hold.
"""
import io
import pickle

from bertprep.transforms.csc import mask_probability

TABLE_COLUMNS = {
    "char_stats": [("char", "string")] + [(name, "int64") for name in mask_probability.CHAR_STAT_FIELDS],
    "confusion_pairs": [("correct", "string"), ("wrong", "string"), ("count", "int64")],
    "confusion_sets": [("char", "string"), ("candidate", "string"), ("score", "float64"), ("source", "string"),
                       ("rank", "int64"), ("phonetic_score", "float64"), ("glyph_score", "float64"),
                       ("observed_count", "int64"), ("same_pinyin", "bool_")],
    "mask_probability": [("char", "string"), ("faspell_probability", "float64"), ("smoothed_probability", "float64"),
                         ("top_confusion_count", "int64"), ("unchanged_count", "int64"), ("correct_count", "int64"),
                         ("written_wrong_count", "int64")],
}
_SORT_KEYS = {
    "char_stats": lambda row: row["char"],
    "confusion_pairs": lambda row: (-row["count"], row["correct"], row["wrong"]),
    "confusion_sets": lambda row: (row["char"], row["rank"]),
    "mask_probability": lambda row: row["char"],
}
SAV_FILE = "mask_probability.sav"


def char_stats_row(char, vector):
    return dict(zip(("char",) + mask_probability.CHAR_STAT_FIELDS, (char,) + tuple(vector)))


def confusion_pairs_row(pair, count):
    return {"correct": pair[0], "wrong": pair[1], "count": count}


def totals_stats(total):
    names = ("pairs", "substitutions", "deletions", "insertions", "unequal_length_pairs")
    return dict(zip(names, total))


def table_bytes(name: str, rows: list) -> dict:
    """Sorted rows → {file name: bytes}: Parquet, TSV with a header, and for mask_probability the .sav pickle."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = TABLE_COLUMNS[name]
    rows = sorted(rows, key=_SORT_KEYS[name])
    schema = pa.schema([(column, getattr(pa, kind)()) for column, kind in columns])
    table = pa.Table.from_pydict({column: [row[column] for row in rows] for column, _ in columns}, schema=schema)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    lines = ["\t".join(column for column, _ in columns)]
    for row in rows:
        lines.append("\t".join("" if row[column] is None else repr(row[column]) if isinstance(row[column], float)
                               else str(row[column]) for column, _ in columns))
    files = {name + ".parquet": buffer.getvalue(), name + ".tsv": ("\n".join(lines) + "\n").encode("utf-8")}
    if name == "mask_probability":
        values = {row["char"]: row["faspell_probability"] for row in rows if row["faspell_probability"] is not None}
        files[SAV_FILE] = pickle.dumps(values, protocol=4)
    return files
