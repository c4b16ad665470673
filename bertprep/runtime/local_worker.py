"""The SDK worker processes of local multi-worker runs: Beam's own harness, started from a warm fork server.

Why not Beam's default worker command: each worker would be a fresh interpreter importing Beam, numba
and the job's code and loading the compiled kernel, about 2.5 CPU seconds a worker, paid again by every
worker of every run, on the same cores the work needs. Here the launching process forks a worker server
at the start of a run, before it has started any thread: a copy of itself that already holds Beam and
the job's modules, and that loads what the job's workers need next (the job module's `preload_worker`,
e.g. the compiled kernel) while the launching process builds the pipeline. The worker command that
Beam runs is a small client: it hands the server its environment, arguments and standard streams, the
server forks a worker from its warm state, and the client exits with the worker's status. Where fork is
not available (not Linux) or the server is gone, the command runs the harness itself, as before.

Either way the harness runs exactly as in `apache_beam.runners.worker.sdk_worker_main`; only the exit
(no interpreter teardown: Beam stops workers one after another and waits for each) and the terminal's
log level differ.
"""
import contextlib
import importlib
import json
import logging
import os
import selectors
import signal
import socket
import struct
import sys
import tempfile
import threading
import traceback

SERVER_ENV = "BERTPREP_WORKER_SERVER"
VERBOSE_ENV = "BERTPREP_VERBOSE"  # set by `--verbose`: workers keep Beam's own bundle tracebacks on stderr
_HEADER = struct.Struct("!I")


def command_line() -> str:
    """The worker command for `SubprocessSDKEnvironment` (the form Beam's own default takes)."""
    return "%s -m bertprep.runtime.local_worker" % sys.executable


# ---------------------------------------------------------------- the launching process's side

class ForkServer:
    """A warm copy of the launching process that forks workers on request; `close()` ends it.

    Start it before the process starts threads (the progress monitor, Beam's gRPC servers): a fork
    copies only the thread that calls it, so any lock another thread held would stay held forever.
    """

    def __init__(self, preload_module: str = ""):
        self.directory = tempfile.mkdtemp(prefix="bertprep-workers-")
        self.address = os.path.join(self.directory, "server")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self.address)
        listener.listen(64)
        lifeline, server_end = socket.socketpair()
        sys.stdout.flush()  # the copy must not write out what this process had buffered
        sys.stderr.flush()
        try:
            self.pid = os.fork()
        except OSError:
            for end in (listener, lifeline, server_end):
                end.close()
            self._remove_socket()
            raise
        if self.pid == 0:  # the server
            lifeline.close()
            code = 0
            try:
                _serve(listener, server_end, preload_module)
            except BaseException:  # noqa: B902 - a server that cannot serve lets the clients start harnesses
                code = 1
            os._exit(code)
        listener.close()
        server_end.close()
        self._lifeline = lifeline

    def close(self) -> None:
        """End the server (it also ends if this process dies: its lifeline closes)."""
        if self._lifeline is None:
            return
        self._lifeline.close()
        self._lifeline = None
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
        self._remove_socket()

    def _remove_socket(self) -> None:
        try:
            os.unlink(self.address)
            os.rmdir(self.directory)
        except OSError:
            pass


def fork_server_usable() -> bool:
    """Fork keeps the parent's state only on Linux (macOS's system libraries are not fork-safe), and only
    while this process runs one thread."""
    return sys.platform.startswith("linux") and hasattr(socket, "send_fds") and threading.active_count() == 1


@contextlib.contextmanager
def worker_server(preload_module: str = ""):
    """Around a local multi-worker run: a ForkServer that the worker commands find through SERVER_ENV
    (Beam passes this process's environment to them); nothing where fork is not usable."""
    server = None
    if fork_server_usable():
        try:
            server = ForkServer(preload_module)
        except OSError:  # no fork (memory, process limits): fresh interpreters
            server = None
    if server is None:
        yield None
        return
    previous = os.environ.get(SERVER_ENV)
    os.environ[SERVER_ENV] = server.address
    try:
        yield server
    finally:
        if previous is None:
            os.environ.pop(SERVER_ENV, None)
        else:
            os.environ[SERVER_ENV] = previous
        server.close()


# ---------------------------------------------------------------- the server

def _serve(listener: socket.socket, lifeline: socket.socket, preload_module: str) -> None:
    """Load the workers' common state, then fork one worker per client until the lifeline closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C ends the run through the launching process
    importlib.import_module("apache_beam.runners.worker.sdk_worker_main")  # what every worker runs
    importlib.import_module("bertprep.report.report")  # every job ends with its report (matplotlib)
    if preload_module:
        preload = getattr(importlib.import_module(preload_module), "preload_worker", None)
        if preload is not None:
            preload()
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    selector.register(lifeline, selectors.EVENT_READ)
    while True:
        for key, _ in selector.select(timeout=1.0):
            if key.fileobj is lifeline:  # the launching process closed it, or died
                _reap(wait_seconds=2.0)
                return
            connection, _ = listener.accept()
            try:
                _start_worker(connection, listener, lifeline)
            except (OSError, ValueError):  # a client that went away mid-request: its command fails, not the server
                pass
            finally:
                connection.close()
        _reap()


def _reap(wait_seconds: float = 0.0) -> None:
    """Collect finished workers (waiting up to `wait_seconds` for the rest), so that their resource use
    counts towards this process and, through it, the run's."""
    import time

    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            if time.monotonic() >= deadline:
                return
            time.sleep(0.01)


def _start_worker(connection: socket.socket, listener: socket.socket, lifeline: socket.socket) -> None:
    request, descriptors = _receive(connection)
    if os.fork() != 0:
        for descriptor in descriptors:
            os.close(descriptor)
        return
    # The worker: the client's streams and environment, then Beam's harness.
    code = 1
    try:
        listener.close()
        lifeline.close()
        for target, descriptor in zip((0, 1, 2), descriptors):
            os.dup2(descriptor, target)
            os.close(descriptor)
        os.environ.clear()
        os.environ.update(request["environ"])
        # Ctrl-C reaches every process of the run; the launching process reports it, a worker just ends.
        signal.signal(signal.SIGINT, lambda *_: os._exit(130))
        threading.Thread(target=_exit_with_client, args=(connection,), daemon=True).start()
        code = _run_harness(request["argv"], fresh_logging=True)
    finally:
        try:
            connection.sendall(_HEADER.pack(code))
        except OSError:
            pass
        _leave(code)


def _exit_with_client(connection: socket.socket) -> None:
    """The client is what Beam watches and kills: when it is gone, so is its worker."""
    try:
        connection.recv(1)
    except OSError:
        pass
    os._exit(1)


def _receive(connection: socket.socket):
    size = _HEADER.unpack(_read_exactly(connection, _HEADER.size))[0]
    message, descriptors, _, _ = socket.recv_fds(connection, size, 3)
    while len(message) < size:
        message += _read_exactly(connection, size - len(message))
    return json.loads(message.decode("utf-8")), list(descriptors)


def _read_exactly(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the worker server's peer closed the connection")
        data += chunk
    return data


# ---------------------------------------------------------------- the worker command (the client)

def _ask_server(connection: socket.socket, argv) -> int:
    """Have the server fork a worker with this process's environment, arguments and streams; its status."""
    message = json.dumps({"environ": dict(os.environ), "argv": list(argv)}).encode("utf-8")
    connection.sendall(_HEADER.pack(len(message)))
    socket.send_fds(connection, [message], [0, 1, 2])
    try:
        reply = _read_exactly(connection, _HEADER.size)
    except ConnectionError:  # the worker died without a word (killed, or a crash in native code)
        return 1
    return _HEADER.unpack(reply)[0]


def _run_harness(argv, fresh_logging: bool = False) -> int:
    if fresh_logging:  # a forked worker starts from the launching process's logging set-up: start over
        root = logging.getLogger()
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for name in ("apache_beam", "apache_beam.runners.portability.local_job_service"):
            logging.getLogger(name).setLevel(logging.NOTSET)
        root.setLevel(logging.WARNING)
    # Only a crashing harness on the terminal: Beam's worker logs a score of INFO/WARNING start-up lines
    # per process (they still reach the runner through Beam's logging service), and a failing bundle's
    # error reaches the user through the runner, as the job's own one-line error.
    terminal = logging.StreamHandler()
    terminal.setLevel(logging.CRITICAL)
    logging.getLogger().addHandler(terminal)
    # Beam's harness also prints a failing bundle's traceback straight to stderr (sdk_worker._execute); the
    # runner gets the same traceback in the bundle's response, and the user sees it as the job's one-line
    # error (the trace behind it with --verbose, which also lets the workers' own copy through).
    bundle_traces = contextlib.nullcontext() if os.environ.get(VERBOSE_ENV) else \
        contextlib.redirect_stderr(open(os.devnull, "w"))
    try:
        from apache_beam.runners.worker import sdk_worker_main

        with bundle_traces:
            sdk_worker_main.main(argv)
    except BaseException:  # noqa: B902 - Beam has logged it to the runner; keep a trace on this process's stderr
        traceback.print_exc()
        return 1
    return 0


def _leave(code: int) -> None:
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main() -> None:
    address = os.environ.get(SERVER_ENV)
    connection = None
    if address:
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            connection.connect(address)
        except OSError:  # no server (it failed to start, or has ended): be the worker here
            connection.close()
            connection = None
    if connection is None:
        _leave(_run_harness(sys.argv))
    try:
        code = _ask_server(connection, sys.argv)
    except OSError:
        code = 1
    except KeyboardInterrupt:  # Ctrl-C: the launching process reports it; the worker ends with this command
        code = 130
    _leave(code)


if __name__ == "__main__":
    main()
