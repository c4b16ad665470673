"""Read the table files a job wrote (mask-probs TSVs) in one streaming pass, for the run report.

Column names are looked up from a few accepted spellings, so the report keeps working if a job names
a column `count` or `frequency`; a table whose columns cannot be recognised is skipped with a note.
"""
import csv
import heapq
import io
from typing import List, Optional, Tuple

from bertprep.io import fs

CORRECT_COLUMNS = ("correct", "char", "character", "source", "from")
WRONG_COLUMNS = ("wrong", "candidate", "target", "to", "confused")
COUNT_COLUMNS = ("count", "confusion_count", "pair_count", "n", "frequency", "times")
CHAR_COLUMNS = ("char", "character", "wrong", "token")
PROBABILITY_COLUMNS = ("mask_probability", "faspell_probability", "faspell_mask_probability", "probability",
                       "smoothed_probability", "smoothed_error_rate", "error_rate", "smoothed")
MAX_ROWS = 2_000_000
PROBABILITY_BINS = 20


def _pick(header: List[str], names) -> Optional[int]:
    lowered = [name.strip().lower() for name in header]
    for name in names:
        if name in lowered:
            return lowered.index(name)
    return None


def _rows(path: str):
    """Header and rows of a UTF-8 TSV file; nothing if it does not exist."""
    if not fs.exists(path):
        return None, iter(())
    handle = io.TextIOWrapper(fs.open_read(path), encoding="utf-8", errors="replace")
    reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
    header = next(reader, None)

    def rows():
        try:
            for number, row in enumerate(reader):
                if number >= MAX_ROWS:
                    return
                yield row
        finally:
            handle.close()
    return header, rows()


def top_confusion_pairs(path: str, top: int = 20) -> Optional[List[Tuple[str, str, float]]]:
    """The `top` (correct, wrong, count) rows by count from a confusion-pairs TSV, or None."""
    header, rows = _rows(path)
    if not header:
        return None
    correct, wrong, number = _pick(header, CORRECT_COLUMNS), _pick(header, WRONG_COLUMNS), _pick(header, COUNT_COLUMNS)
    if correct is None or wrong is None or number is None or correct == wrong:
        return None
    best: List[Tuple[float, str, str]] = []
    for row in rows:
        try:
            item = (float(row[number]), row[correct], row[wrong])
        except (IndexError, ValueError):
            continue
        if len(best) < top:
            heapq.heappush(best, item)
        elif item > best[0]:
            heapq.heapreplace(best, item)
    return [(c, w, n) for n, c, w in sorted(best, key=lambda item: (-item[0], item[1], item[2]))]


def mask_probability_summary(path: str, top: int = 20, columns: int = 2):
    """For up to `columns` probability columns of a mask-probability TSV: a list of {"column",
    "histogram" {bin start: characters}, "top" [(char, probability)], "mean", "characters"}; or None."""
    header, rows = _rows(path)
    if not header:
        return None
    lowered = [name.strip().lower() for name in header]
    picked = [lowered.index(name) for name in PROBABILITY_COLUMNS if name in lowered][:columns]
    char = _pick(header, CHAR_COLUMNS)
    if not picked:
        return None
    found = {index: {"column": header[index], "histogram": {round(b / PROBABILITY_BINS, 4): 0
                                                             for b in range(PROBABILITY_BINS)},
                     "best": [], "total": 0.0, "characters": 0} for index in picked}
    for row in rows:
        for index, column in found.items():
            try:
                value = float(row[index])
            except (IndexError, ValueError):
                continue
            bin_index = min(PROBABILITY_BINS - 1, max(0, int(value * PROBABILITY_BINS)))
            column["histogram"][round(bin_index / PROBABILITY_BINS, 4)] += 1
            column["total"] += value
            column["characters"] += 1
            if char is not None and char < len(row):
                item = (value, row[char])
                if len(column["best"]) < top:
                    heapq.heappush(column["best"], item)
                elif item > column["best"][0]:
                    heapq.heapreplace(column["best"], item)
    return [{"column": column["column"], "histogram": column["histogram"],
             "top": [(c, p) for p, c in sorted(column["best"], key=lambda item: (-item[0], item[1]))],
             "mean": column["total"] / column["characters"] if column["characters"] else 0.0,
             "characters": column["characters"]} for column in (found[index] for index in picked)]


SOURCE_COLUMNS = ("source", "sources")


def confusion_set_summary(path: str) -> Optional[dict]:
    """From a confusion-sets TSV (one row per character and candidate, with the `+`-joined sources that
    found it): {"by_source": {source: [candidates found by it alone, found by it and another]},
    "set_sizes": {candidates: characters}, "characters": n, "candidates": n}; or None."""
    header, rows = _rows(path)
    if not header:
        return None
    char, source = _pick(header, ("char", "character", "correct")), _pick(header, SOURCE_COLUMNS)
    if char is None:
        return None
    by_source = {}
    sizes = {}
    candidates = 0
    for row in rows:
        if char >= len(row):
            continue
        candidates += 1
        sizes[row[char]] = sizes.get(row[char], 0) + 1  # bounded by the character universe
        found = [name for name in row[source].split("+") if name] if source is not None and source < len(row) else []
        for name in found:
            counts = by_source.setdefault(name, [0, 0])
            counts[0 if len(found) == 1 else 1] += 1
    histogram = {}
    for size in sizes.values():
        histogram[size] = histogram.get(size, 0) + 1
    return {"by_source": by_source, "set_sizes": histogram, "characters": len(sizes), "candidates": candidates}
