"""What every reader yields: a `Record`, or a `DeadLetter` for an input it could not use.

Beam-free, so the pure transforms and the formats share these types with the pipelines.
"""
import dataclasses

# Dead-letter copies of huge lines are cut to this many characters; the reason says so.
MAX_DEAD_LETTER_CHARS = 10_000


@dataclasses.dataclass(frozen=True)
class Record:
    """One input record. `key` is stable across runs and workers: it seeds per-record randomness."""

    source: str
    line: int
    value: object

    @property
    def key(self) -> str:
        return "%s:%d" % (self.source, self.line)


@dataclasses.dataclass(frozen=True)
class DeadLetter:
    """An input that did not become output, with the reason why."""

    source: str
    line: int
    reason: str
    record: object = None

    def to_json(self) -> dict:
        record = self.record
        if isinstance(record, bytes):
            record = record.decode("utf-8", errors="backslashreplace")
        if isinstance(record, str) and len(record) > MAX_DEAD_LETTER_CHARS:
            record = record[:MAX_DEAD_LETTER_CHARS] + "…[cut from %d characters]" % len(record)
        return {"source": self.source, "line": self.line, "reason": self.reason, "record": record}

    @property
    def key(self) -> str:
        return "%s:%d" % (self.source, self.line)

    @property
    def reason_kind(self) -> str:
        """The reason without its details, for counting dead letters by kind."""
        return self.reason.split(":")[0]
