"""Existing confusion sets as inputs of mask-probs: the files spelling-correction teams already hold, each a
named source (`external:<file name>` in the confusion sets' `source` column) whose trust the ranker learns.

The files are read by bertprep.io.formats.confusion_sets, the one reader of confusion files (its layouts,
dead letters and errors); this module holds what the ranker keeps of them.
"""
from typing import Dict, Iterable, List, Mapping, Sequence, Tuple

from bertprep.io.formats.confusion_sets import (LAYOUTS, SOURCE_PREFIX, ConfusionEntry, check_source_names,  # noqa: F401
                                                iter_entries, source_name)
from bertprep.io.records import DeadLetter

FORMATS = LAYOUTS
# A confusion file's dead letters are io's own; the name stays for the callers that test for it.
ConfusionDeadLetter = DeadLetter


class ExternalSets:
    """Every external source's candidates per character: membership and set sizes for the ranker.

    A character listed on several lines of one file gets the union, in file order.
    """

    def __init__(self, names: Sequence[str] = (), entries: Iterable[ConfusionEntry] = ()):
        self.names: List[str] = list(names)
        self._sets: Dict[str, Dict[str, List[str]]] = {name: {} for name in self.names}
        self._frozen: Dict[str, Dict[str, frozenset]] = {}
        for entry in entries:
            self.add(entry.source, entry.char, entry.candidates)

    def add(self, source: str, char: str, candidates: Sequence[str]) -> None:
        if source not in self._sets:
            self.names.append(source)
            self._sets[source] = {}
        current = self._sets[source].setdefault(char, [])
        known = set(current)
        for candidate in candidates:
            if candidate != char and candidate not in known:
                known.add(candidate)
                current.append(candidate)
        self._frozen.pop(source, None)

    def __bool__(self) -> bool:
        return bool(self.names)

    def candidates(self, source: str, char: str) -> List[str]:
        return self._sets.get(source, {}).get(char, [])

    def members(self, source: str, char: str) -> frozenset:
        frozen = self._frozen.setdefault(source, {})
        if char not in frozen:
            frozen[char] = frozenset(self.candidates(source, char))
        return frozen[char]

    def any_candidates(self, char: str) -> List[str]:
        """Candidates of `char` from every source, first seen first."""
        seen, result = set(), []
        for name in self.names:
            for candidate in self.candidates(name, char):
                if candidate not in seen:
                    seen.add(candidate)
                    result.append(candidate)
        return result

    def has(self, char: str) -> bool:
        return any(char in table for table in self._sets.values())

    def sizes(self) -> Dict[str, dict]:
        """Per source: characters with an entry, candidates in all and per character (for info.json)."""
        result = {}
        for name in self.names:
            table = self._sets[name]
            total = sum(len(v) for v in table.values())
            result[name] = {"characters": len(table), "candidates": total,
                            "mean_candidates": round(total / len(table), 2) if table else 0.0}
        return result

    @classmethod
    def from_rows(cls, names: Sequence[str], rows: Iterable[Tuple[str, str, Sequence[str]]]) -> "ExternalSets":
        """From (source, char, candidates) rows (a Beam side input)."""
        sets = cls(names)
        for source, char, candidates in rows:
            sets.add(source, char, candidates)
        return sets

    def as_mapping(self) -> Mapping[str, Mapping[str, List[str]]]:
        return self._sets
