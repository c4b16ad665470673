"""How `bertprep serve` faces slow and hostile clients: uvicorn, configured.

uvicorn times out idle keep-alive connections but not a request head that arrives slowly: a client that
opens a connection and sends a header byte now and then holds it forever, and 1,024 of them used to use
up the process's open files (every later accept failed, /health included, and each failure logged a
traceback). Rather than switch servers, `GuardedH11Protocol` extends uvicorn's own h11 protocol class
(passed as `Config(http=...)`, uvicorn's documented way to choose the HTTP implementation) with:

  * a header timeout: a connection must deliver a complete request head within `header_timeout`
    seconds of opening (or of its previous response), else it is closed;
  * a connection cap below the open-file limit: when a new connection would pass it, the connection
    that has waited longest for its request head is closed to make room (a slow client never locks
    out a quick one such as a health probe); only when every connection is busy with a request is the
    new one refused;
  * one log line per burst of refusals (`RateLimitedLog`), never one per connection.

The event loop's own errors (an accept that fails for lack of file descriptors) and uvicorn's warnings
are rate-limited the same way (`RateLimitFilter`), so no client can make the log grow without bound.
"""
import ipaddress
import logging
import socket
import time
from typing import Iterable, List, Optional

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

LOG = logging.getLogger("bertprep.serve")
# The event loop accepts up to `backlog` connections at a time before any of them reaches the protocol's
# cap check, so the cap stays below the open-file limit by that burst plus the descriptors the registry,
# logs and pipeline subprocesses need.
ACCEPT_BACKLOG = 128
FILE_RESERVE = 128 + ACCEPT_BACKLOG
DEFAULT_MAX_CONNECTIONS = 1000
REPORT_EVERY_SECONDS = 10.0


class RateLimitedLog:
    """Counts events; logs the first of a burst at once and then at most one summary per `every` seconds."""

    def __init__(self, logger: logging.Logger, what: str, every: float = REPORT_EVERY_SECONDS):
        self.logger, self.what, self.every = logger, what, every
        self.pending = 0
        self.last = None
        self.total = 0

    def note(self, detail: str = "") -> None:
        self.total += 1
        self.pending += 1
        now = time.monotonic()
        if self.last is None:
            self.logger.warning("%s%s (counted from now on, reported at most every %.0f s)", self.what,
                                "; " + detail if detail else "", self.every)
        elif now - self.last >= self.every:
            self.logger.warning("%s: %d more in the last %.0f s%s (%d in all)", self.what, self.pending,
                                now - self.last, "; " + detail if detail else "", self.total)
        else:
            return
        self.pending = 0
        self.last = now


class RateLimitFilter(logging.Filter):
    """Passes at most `burst` records of one message template per `every` seconds, and says how many it
    dropped in the next record it passes; a traceback is kept only on the first record of a window."""

    def __init__(self, burst: int = 5, every: float = REPORT_EVERY_SECONDS):
        super().__init__()
        self.burst, self.every = burst, every
        self.windows = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, str(record.msg).split("\n", 1)[0][:200])
        now = time.monotonic()
        start, passed, dropped = self.windows.get(key, (now, 0, 0))
        if now - start >= self.every:
            start, passed = now, 0
        if passed >= self.burst:
            self.windows[key] = (start, passed, dropped + 1)
            return False
        if passed:
            record.exc_info, record.exc_text, record.stack_info = None, None, None
        if dropped:
            record.msg = "%s [%d similar line(s) dropped]" % (record.msg, dropped)
        self.windows[key] = (start, passed + 1, 0)
        if len(self.windows) > 1000:  # many distinct messages: forget the old windows
            self.windows = {key: self.windows[key]}
        return True


class Limits:
    def __init__(self, header_timeout: float, max_connections: int):
        self.header_timeout = header_timeout
        self.max_connections = max_connections
        self.evicted = RateLimitedLog(LOG, "slow connections closed to make room (connection cap %d)"
                                      % max_connections)
        self.refused = RateLimitedLog(LOG, "connections refused: all %d busy" % max_connections)
        self.timed_out = RateLimitedLog(LOG, "connections closed without a request head within %.0f s"
                                        % header_timeout)


def protocol_class(limits: Limits):
    """A uvicorn HTTP protocol class enforcing `limits` (uvicorn builds one instance per connection)."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {"limits": limits})


class GuardedH11Protocol(H11Protocol):
    limits: Limits

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._head_timer = None
        self._waiting_since: Optional[float] = None
        self._await_head()
        if len(self.connections) > self.limits.max_connections:
            waiting = [connection for connection in self.connections
                       if getattr(connection, "_waiting_since", None) is not None and connection is not self]
            if waiting:
                min(waiting, key=lambda connection: connection._waiting_since)._drop()
                self.limits.evicted.note()
            else:
                self._drop()
                self.limits.refused.note()

    def _await_head(self) -> None:
        """Start the header clock: the next request head must be complete within the timeout."""
        self._waiting_since = self.loop.time()
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_timed_out)

    def _head_arrived(self) -> None:
        self._waiting_since = None
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        if self._waiting_since is not None and not self.transport.is_closing():
            self.limits.timed_out.note()
            self._drop()

    def _drop(self) -> None:
        self._head_arrived()
        if not self.transport.is_closing():
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._waiting_since is not None and self.conn.their_state is not h11.IDLE:
            self._head_arrived()  # a whole request head was parsed (its body, if any, may follow)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._await_head()  # a keep-alive connection waits for its next request head

    def connection_lost(self, exc) -> None:
        self._head_arrived()
        super().connection_lost(exc)


def raise_open_file_limit() -> int:
    """Raise the soft open-file limit to the hard one (the usual default soft limit is 1,024); the soft limit."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def connection_cap(requested: Optional[int], open_file_limit: int) -> int:
    """The connection cap: what was asked for (default 1,000), never more than the open-file limit less a
    reserve, so accepting a connection never fails for lack of descriptors."""
    ceiling = max(16, open_file_limit - FILE_RESERVE)
    return max(1, min(requested or DEFAULT_MAX_CONNECTIONS, ceiling))


def limit_server_logs(log_filter: Optional[RateLimitFilter] = None) -> RateLimitFilter:
    """Rate-limit what the event loop (an accept failing for lack of files logs a traceback each time) and
    uvicorn (one warning per malformed request) log."""
    log_filter = log_filter or RateLimitFilter()
    for name in ("asyncio", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RateLimitFilter) for existing in logger.filters):
            logger.addFilter(log_filter)
    return log_filter


def allowed_hosts(bind_host: str, extra: Iterable[str] = ()) -> List[str]:
    """The Host header values `serve` answers: the bind address, the loopback names when bound to loopback,
    and for a wildcard bind (0.0.0.0, ::) this machine's name and any IP address literal; plus `extra`
    (`*`: any). A name not listed is what a DNS-rebinding page sends: it gets 421."""
    names = {bind_host.lower().strip("[]")}
    if _is_loopback(bind_host):
        names.update({"localhost", "127.0.0.1", "::1"})
    if bind_host in ("0.0.0.0", "::", ""):
        names.update({"localhost", "<ip>", socket.gethostname().lower(), socket.getfqdn().lower()})
    names.update(name.lower().strip() for name in extra if name.strip())
    return sorted(names)


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_allowed(header: Optional[str], allowed: List[str]) -> bool:
    if "*" in allowed:
        return True
    if not header:
        return False
    host = header.strip().lower()
    if host.startswith("["):  # [::1]:8080
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    if host in allowed:
        return True
    if "<ip>" in allowed:
        try:
            ipaddress.ip_address(host)
            return True
        except ValueError:
            return False
    return False
