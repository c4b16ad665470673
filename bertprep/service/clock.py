"""Time for the scheduler, injectable so tests can step it minute by minute."""
import datetime
import threading
import time


class SystemClock:
    def time(self) -> float:
        return time.time()

    def now(self) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(self.time(), tz=datetime.timezone.utc)

    def wait(self, seconds: float, stop: threading.Event) -> None:
        """Sleep up to `seconds`, returning early when `stop` is set."""
        stop.wait(max(0.0, seconds))


class FakeClock(SystemClock):
    """A clock that only moves when told to; `wait` returns at once (the caller drives the loop)."""

    def __init__(self, start: datetime.datetime):
        if start.tzinfo is None:
            raise ValueError("FakeClock needs a time-zone-aware start")
        self._now = start.timestamp()
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def wait(self, seconds: float, stop: threading.Event) -> None:
        stop.wait(0.01)
