"""The mask-probs output tables, written and read here: Parquet and TSV per table, and FASPell's pickled
`mask_probability.sav` (columns: schemas/tables.py).

Plain Python (no Beam): the mask-probs job writes with `table_bytes`; pre-training's confusion-aware
masking reads with `read_mask_probability` and `read_confusion_set_rows`, local or gs:// (through
bertprep.io.fs). One definition of what `char_stats`, `confusion_pairs`, `confusion_sets`, `confusion_kinds` and
`mask_probability` hold.
"""
import io
import pickle
from typing import Dict, List, Optional

from bertprep.errors import BertprepError
from bertprep.io import fs
from bertprep.schemas import tables

TABLE_COLUMNS = tables.MASK_PROBS_TABLES  # the layouts live in bertprep/schemas/tables.py
_SORT_KEYS = {
    "char_stats": lambda row: row["char"],
    "confusion_pairs": lambda row: (-row["count"], row["correct"], row["wrong"]),
    "confusion_sets": lambda row: (row["char"], row["rank"]),
    "confusion_kinds": lambda row: (row["char"], row["kind"], row["rank"]),
    "mask_probability": lambda row: row["char"],
}
SAV_FILE = "mask_probability.sav"


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


# The probability columns a reader without --mask-probability-column tries, in this order (the last two:
# tables of other tools).
PROBABILITY_COLUMNS = ("smoothed_probability", "faspell_probability", "probability", "mask_probability")


def _read_parquet_rows(path: str) -> List[dict]:
    import pyarrow.parquet as parquet

    try:
        with fs.open_read(path, decompress=False) as handle:
            return parquet.read_table(handle).to_pylist()
    except BertprepError:
        raise
    except Exception as error:  # pyarrow raises several types for unreadable files
        raise BertprepError("cannot read %s as Parquet: %s" % (path, error)) from None


def _is_directory(path: str) -> bool:
    """A local directory, or a remote prefix with objects under it (a published confusion file on gs:// is
    not one)."""
    return fs.is_dir(path)


def _table_path(path: str, name: str) -> str:
    """`path` itself, or `name`.parquet inside the mask-probs output directory `path`."""
    if _is_directory(path):
        candidate = fs.join(path, name + ".parquet")
        if not fs.exists(candidate):
            raise BertprepError("%s has no %s.parquet (is it a mask-probs output directory?)" % (path, name))
        return candidate
    if not fs.exists(path):
        raise BertprepError("file not found: %s" % path)
    return path


def read_sav(path: str) -> Dict[str, float]:
    """FASPell's mask_probability.sav: a pickled dict[str, float]."""
    if not fs.exists(path):
        raise BertprepError("file not found: %s" % path)
    with fs.open_read(path, decompress=False) as handle:
        try:
            table = pickle.load(handle)
        except Exception as error:  # a corrupt pickle can raise almost anything
            raise BertprepError("%s is not a pickled dict: %s" % (path, error)) from None
    if not isinstance(table, dict):
        raise BertprepError("%s holds a %s, not a dict[str, float]" % (path, type(table).__name__))
    return {str(char): float(value) for char, value in table.items()}


def read_mask_probability(path: str, column: Optional[str] = None) -> Dict[str, float]:
    """A mask-probs directory, its mask_probability.parquet, or a FASPell mask_probability.sav → {char: p}."""
    if path.endswith(".sav"):
        return read_sav(path)
    rows = _read_parquet_rows(_table_path(path, "mask_probability"))
    if not rows:
        return {}
    names = [column] if column else [name for name in PROBABILITY_COLUMNS if name in rows[0]]
    if not names or names[0] not in rows[0] or "char" not in rows[0]:
        raise BertprepError("%s: need columns char and %s (have %s)"
                            % (path, column or " or ".join(PROBABILITY_COLUMNS), ", ".join(rows[0])))
    return {row["char"]: float(row[names[0]]) for row in rows if row[names[0]] is not None}


def is_confusion_sets_table(path: str) -> bool:
    """Whether `path` names the confusion_sets table (a mask-probs directory or a .parquet file), not a text file."""
    return path.endswith(".parquet") or _is_directory(path)


def read_confusion_set_rows(path: str) -> List[dict]:
    """The rows of confusion_sets (a mask-probs directory or its Parquet table)."""
    return _read_parquet_rows(_table_path(path, "confusion_sets"))


def read_confusion_kind_rows(path: str) -> Optional[List[dict]]:
    """The rows of confusion_kinds beside `path` (a mask-probs directory or its confusion_sets.parquet);
    None for an output that predates the table."""
    directory = path if _is_directory(path) else path[:max(path.rfind("/"), 0)]
    table_path = fs.join(directory, "confusion_kinds.parquet") if directory else "confusion_kinds.parquet"
    if not fs.exists(table_path):
        return None
    return _read_parquet_rows(table_path)
