"""The mask-probs output tables: their row order and Parquet/TSV/pickle bytes (columns: schemas/tables.py).

Plain Python (no Beam), so the pretraining job's readers and the tests share one definition of what
`char_stats`, `confusion_pairs`, `confusion_sets`, `confusion_kinds` and `mask_probability` hold.
"""
import io
import pickle

from bertprep.schemas import tables
from bertprep.transforms.csc import mask_probability

TABLE_COLUMNS = tables.MASK_PROBS_TABLES  # the layouts live in bertprep/schemas/tables.py
_SORT_KEYS = {
    "char_stats": lambda row: row["char"],
    "confusion_pairs": lambda row: (-row["count"], row["correct"], row["wrong"]),
    "confusion_sets": lambda row: (row["char"], row["rank"]),
    "confusion_kinds": lambda row: (row["char"], row["kind"], row["rank"]),
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
    schema = tables.mask_probs_table(name)
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
