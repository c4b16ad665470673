"""A local Cloud Storage server for the gs:// tests: `gcp-storage-emulator` (the test extras) on 127.0.0.1.

One emulator serves a whole test session (`storage_emulator` fixture, registered by the gs:// test
modules with `from gcs_emulator import storage_emulator`): it starts in memory on a free port, and
STORAGE_EMULATOR_HOST points this process and every subprocess (jobs, the scheduler, workers) at it,
which google-cloud-storage, and through it Beam's GCS file system, follows. Each test takes its own
bucket (`gcs_bucket`), so tests never see each other's objects.
"""
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

import pytest

EMULATOR = shutil.which("gcp-storage-emulator") or str(pathlib.Path(sys.executable).parent / "gcp-storage-emulator")
START_SECONDS = 30


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Emulator:
    def __init__(self, host: str, process: subprocess.Popen):
        self.host = host
        self.process = process

    def create_bucket(self, name: str) -> str:
        request = urllib.request.Request("%s/storage/v1/b?project=test" % self.host, method="POST",
                                         data=('{"name": "%s"}' % name).encode(), headers={
                                             "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        return name

    def objects(self, bucket: str, prefix: str = "") -> list:
        """Names of every object in the bucket under `prefix`, asked of the server itself (not through fs)."""
        import json
        from urllib.parse import quote

        names, token = [], ""
        while True:
            url = "%s/storage/v1/b/%s/o?prefix=%s%s" % (self.host, bucket, quote(prefix),
                                                         "&pageToken=" + token if token else "")
            with urllib.request.urlopen(url, timeout=10) as response:
                page = json.loads(response.read())
            names += [item["name"] for item in page.get("items", [])]
            token = page.get("nextPageToken")
            if not token:
                return sorted(names)


@pytest.fixture(scope="session")
def storage_emulator():
    if not pathlib.Path(EMULATOR).exists():
        pytest.skip("gcp-storage-emulator is not installed (the test extras install it)")
    port = free_port()
    host = "http://127.0.0.1:%d" % port
    log = tempfile.TemporaryFile()  # a file, not a pipe: a pipe nobody reads would stall a chatty server
    process = subprocess.Popen([EMULATOR, "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory", "-q"],
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + START_SECONDS
    while True:
        try:
            with urllib.request.urlopen(host + "/storage/v1/b?project=test", timeout=2):
                break
        except OSError:
            if process.poll() is not None or time.time() > deadline:
                process.kill()
                log.seek(0)
                pytest.fail("the storage emulator did not start: %s" % log.read().decode(errors="replace")[-2000:])
            time.sleep(0.1)
    previous = os.environ.get("STORAGE_EMULATOR_HOST")
    os.environ["STORAGE_EMULATOR_HOST"] = host  # this process and every subprocess it starts
    try:
        yield Emulator(host, process)
    finally:
        if previous is None:
            os.environ.pop("STORAGE_EMULATOR_HOST", None)
        else:
            os.environ["STORAGE_EMULATOR_HOST"] = previous
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def gcs_bucket(storage_emulator):
    """A fresh bucket on the emulator for one test: its gs:// root, e.g. `gs://t-1a2b3c4d`."""
    return "gs://" + storage_emulator.create_bucket("t-" + uuid.uuid4().hex[:12])


def upload(local: os.PathLike, remote: str) -> str:
    """Copy one local file (or every file under a local directory) to gs://, through the package's door."""
    from bertprep.io import fs

    local = pathlib.Path(local)
    if local.is_dir():
        for path in sorted(local.rglob("*")):
            if path.is_file():
                fs.copy(str(path), fs.join(remote, path.relative_to(local).as_posix()))
        return remote
    fs.copy(str(local), remote)
    return remote


def download_tree(remote: str, local: os.PathLike) -> pathlib.Path:
    """Every object under `remote/` copied to a local directory (for comparing bytes)."""
    from bertprep.io import fs

    local = pathlib.Path(local)
    prefix = remote.rstrip("/") + "/"
    for path in fs.list_files(prefix + "**"):
        target = local / path[len(prefix):]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(fs.read_bytes(path))
    return local


def small_csc_inputs(shared: pathlib.Path, directory: pathlib.Path) -> pathlib.Path:
    """Tiny real inputs for the CSC chain: 20 SIGHAN pairs, 30 People's Daily lines, 30 published
    confusion lines, and a vocabulary of just their characters (ranking a 21k vocabulary takes minutes)."""
    data = pathlib.Path(shared) / "data"
    directory.mkdir(parents=True, exist_ok=True)
    pairs = _head(data / "csc" / "sighan15_train.tsv", 20)
    docs = _head(data / "corpus" / "zh_peopledaily_docs.txt", 30)
    (directory / "pairs.tsv").write_text(pairs, encoding="utf-8")
    (directory / "docs.txt").write_text(docs, encoding="utf-8")
    (directory / "confusion.txt").write_text(_head(data / "csc" / "confusion_ocr_asr.txt", 30), encoding="utf-8")
    characters = sorted(set(pairs + docs) - set("\n\t "))
    (directory / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + characters) + "\n",
                                         encoding="utf-8")
    return directory


def _head(path: pathlib.Path, lines: int) -> str:
    with open(path, encoding="utf-8") as handle:
        return "".join(line for _, line in zip(range(lines), handle))


def _replace_all(text: str, placeholders: dict) -> str:
    for old in sorted(placeholders, key=len, reverse=True):  # a longer path before its own prefix
        text = text.replace(old, placeholders[old])
    return text


def published_files(directory: pathlib.Path, placeholders: dict) -> dict:
    """{relative name: bytes} of every published data file (not info.json, _COMPLETE or the report, which
    hold paths and times); JSONL files (dead letters, side files name their source) with paths replaced, and
    a Parquet file that holds a path as its rows with the path replaced."""
    files = {}
    for path in sorted(pathlib.Path(directory).rglob("*")):
        name = path.relative_to(directory).as_posix()
        if not path.is_file() or name in ("info.json", "_COMPLETE") or name.startswith("report"):
            continue
        data = path.read_bytes()
        if name.endswith(".jsonl"):
            data = _replace_all(data.decode("utf-8"), placeholders).encode("utf-8")
        elif name.endswith(".parquet") and any(old.encode("utf-8") in data for old in placeholders):
            data = _parquet_rows(path, placeholders)  # a column names the source file (embed's `source`)
        files[name] = data
    return files


def _parquet_rows(path: pathlib.Path, placeholders: dict) -> list:
    import pyarrow.parquet as parquet

    return [{key: _replace_all(value, placeholders) if isinstance(value, str) else value
             for key, value in row.items()} for row in parquet.read_table(path).to_pylist()]


TIME_WORDS = ("seconds", "elapsed", "_at", "time", "timing", "duration", "per_second", "cpu_second", "throughput")


def comparable_info(path: pathlib.Path, placeholders: dict):
    """info.json (or report.json) with paths replaced by placeholders and every timing field (and plot of the
    run over time) left out."""
    import json

    def strip(value):
        if isinstance(value, dict):
            return {key: strip(item) for key, item in value.items() if not any(word in key for word in TIME_WORDS)}
        if isinstance(value, list):  # a plot of the run over time ("elapsed", the stages' "time axis") goes too
            return [strip(item) for item in value
                    if not (isinstance(item, dict) and any(word in str(item.get("description", ""))
                                                           for word in ("elapsed", "time axis")))]
        return value

    return strip(json.loads(_replace_all(pathlib.Path(path).read_text(encoding="utf-8"), placeholders)))


def json_differences(first, second, where="") -> list:
    """The paths (`/summary/rates[2]`) at which two JSON values differ, for a readable assertion."""
    if isinstance(first, dict) and isinstance(second, dict):
        return [found for key in sorted(set(first) | set(second))
                for found in json_differences(first.get(key), second.get(key), "%s/%s" % (where, key))]
    if isinstance(first, list) and isinstance(second, list) and len(first) == len(second):
        return [found for index, (one, two) in enumerate(zip(first, second))
                for found in json_differences(one, two, "%s[%d]" % (where, index))]
    return [] if first == second else ["%s: %.60r != %.60r" % (where, first, second)]
