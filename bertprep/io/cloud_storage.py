"""Cloud Storage access, checked once per process before the first gs:// call (`bertprep.io.fs` calls
`ensure_ready`): which credentials, and whether the endpoint answers, with bounded waits.

Why: Beam's GCS client asks google-auth for default credentials with four retries and exponential
backoff (about 20 s) before falling back to an anonymous client, and the storage client then retries a
request for up to 120 s when the network is down, ending in a traceback. Here an emulator
(`STORAGE_EMULATOR_HOST`) or Beam's `--no_auth` means an anonymous client at once; otherwise google-auth
is asked once, without retries, and a missing login is one line naming the path and what to do. An HTTP
request to the endpoint, bounded by REACH_TIMEOUT_SECONDS, turns "no network" into one line too. A failure
is remembered for FAILURE_MEMORY_SECONDS, so a service listing many gs:// paths answers at once instead of
once per path.
"""
import os
import threading
import time

from bertprep.errors import StorageUnavailable


EMULATOR_VARIABLE = "STORAGE_EMULATOR_HOST"
# Set by `use_anonymous_credentials` (Beam's --no_auth) so worker processes started later inherit it.
ANONYMOUS_VARIABLE = "BERTPREP_GCS_ANONYMOUS"
GCS_ENDPOINT_URL = "https://storage.googleapis.com"
REACH_TIMEOUT_SECONDS = 10.0
LOGIN_HINT = ("run `gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS to a "
              "service-account key (or STORAGE_EMULATOR_HOST for a local emulator)")
FAILURE_MEMORY_SECONDS = 30.0
_cloud_storage_checked = threading.Lock()
_cloud_storage_ready = []
_cloud_storage_failure = []  # [monotonic time, cause] of the last failed check


def use_anonymous_credentials() -> None:
    """Beam's `--no_auth`: talk to Cloud Storage without credentials, in this process and its workers."""
    os.environ[ANONYMOUS_VARIABLE] = "1"
    _cloud_storage_ready.clear()
    _cloud_storage_failure.clear()


def ensure_ready(path: str) -> None:
    """Before this process's first gs:// call: pick the credentials and check the endpoint answers; a
    StorageUnavailable naming `path` and the cause if it cannot be used."""
    if not str(path).startswith("gs://") or _cloud_storage_ready:
        return
    with _cloud_storage_checked:
        if _cloud_storage_ready:
            return
        if _cloud_storage_failure and time.monotonic() - _cloud_storage_failure[0] < FAILURE_MEMORY_SECONDS:
            raise StorageUnavailable("%s: %s" % (path, _cloud_storage_failure[1]))
        emulator = os.environ.get(EMULATOR_VARIABLE, "").strip()
        try:
            if emulator or os.environ.get(ANONYMOUS_VARIABLE):
                _set_beam_credentials(None)
            else:
                _require_default_credentials()
            _require_reachable(emulator)
        except _Unavailable as problem:
            _cloud_storage_failure[:] = [time.monotonic(), str(problem)]
            raise StorageUnavailable("%s: %s" % (path, problem)) from None
        _cloud_storage_failure.clear()
        _cloud_storage_ready.append(True)


class _Unavailable(Exception):
    """Why Cloud Storage cannot be used (the path is added by the caller)."""


def _set_beam_credentials(credentials) -> None:
    # Beam keeps one process-wide credentials cache (apache_beam.internal.gcp.auth._Credentials) and offers
    # no public way to say "anonymous" to its GCS file system (--no_auth is read by the Dataflow client
    # only). Filling the cache before Beam's first look is what skips its retry loop.
    from apache_beam.internal.gcp import auth

    with auth._Credentials._credentials_lock:
        auth._Credentials._credentials = None if credentials is None else auth._ApitoolsCredentialsAdapter(credentials)
        auth._Credentials._credentials_init = True


def _require_default_credentials() -> None:
    try:
        import google.auth
        import google.auth.exceptions
    except ImportError:
        raise _Unavailable("reading gs:// needs the gcp extra (pip install 'apache-beam[gcp]')") from None
    try:
        from apache_beam.options.pipeline_options import GoogleCloudOptions, PipelineOptions

        scopes = PipelineOptions([]).view_as(GoogleCloudOptions).gcp_oauth_scopes
        credentials, _ = google.auth.default(scopes=scopes)
    except google.auth.exceptions.DefaultCredentialsError:
        raise _Unavailable("no Google Cloud credentials found; %s" % LOGIN_HINT) from None
    except Exception as error:  # a malformed key file, an unreadable gcloud configuration
        raise _Unavailable("cannot load Google Cloud credentials (%s); %s" % (
            (_describe_error(error) or type(error).__name__).splitlines()[0], LOGIN_HINT)) from None
    _set_beam_credentials(credentials)


def _require_reachable(emulator: str) -> None:
    """An HTTP answer (any status) from the storage endpoint within REACH_TIMEOUT_SECONDS, name resolution
    included, which has no timeout of its own: the request runs in a daemon thread that is given up on.
    HTTP rather than a TCP connection, because a proxy or a sandbox may accept a connection to any address."""
    import urllib.error
    import urllib.request

    url = (emulator if "://" in emulator else "http://" + emulator) if emulator else GCS_ENDPOINT_URL
    outcome = []

    def ask():
        try:
            urllib.request.urlopen(url.rstrip("/") + "/", timeout=REACH_TIMEOUT_SECONDS).close()
            outcome.append(None)
        except urllib.error.HTTPError:  # an answer, whatever it says: the endpoint is there
            outcome.append(None)
        except Exception as error:  # URLError, timeouts, a reset connection
            reason = getattr(error, "reason", None) or error
            outcome.append(_describe_error(reason) if isinstance(reason, BaseException) else str(reason))

    attempt = threading.Thread(target=ask, daemon=True, name="bertprep-gcs-reach")
    attempt.start()
    attempt.join(REACH_TIMEOUT_SECONDS + 1)
    if outcome and outcome[0] is None:
        return
    reason = (outcome[0] or "no answer") if outcome else "no answer in %.0f s" % REACH_TIMEOUT_SECONDS
    where = "the storage emulator at %s (%s)" % (emulator, EMULATOR_VARIABLE) if emulator else \
        "Cloud Storage at %s" % url
    raise _Unavailable("cannot reach %s: %s; check the network%s" % (
        where, reason, " or start the emulator" if emulator else " or proxy settings"))


def _describe_error(error: BaseException) -> str:
    return getattr(error, "strerror", None) or str(error)
