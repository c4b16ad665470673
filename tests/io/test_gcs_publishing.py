"""Publishing on an object store (a local Cloud Storage emulator), where there is no directory and no atomic
rename: the cases that differ from a local disk.

- A killed earlier run with another shard count left shards and temporaries under the output prefix: the
  next run publishes exactly its own shards (the stale ones deleted before `_COMPLETE`).
- `--overwrite` over a complete output with more shards: the marker is withdrawn first and every object
  of the old output is replaced or deleted; the prefix then holds what a fresh run writes, byte for byte.
- Two runs racing for LATEST while a reader polls it: every read names one of the two runs (a single-object
  write is atomic on Cloud Storage: never missing, never half written), and the last publish wins.
"""
import threading

from bertprep.cli import main
from bertprep.io import fs
from bertprep.service.run_process import publish_latest, read_latest

from gcs_emulator import gcs_bucket, storage_emulator  # noqa: F401


def run(*argv):
    status = main([str(arg) for arg in argv])
    assert status == 0, "bertprep %s exited %s" % (" ".join(map(str, argv)), status)


def classifier(source, vocab, output, shards, *extra):
    run("classifier", "--input", source, "--header", "--vocab", vocab, "--max-seq-length", 32,
        "--num-shards", shards, "--output", output, *extra)


def objects_under(prefix):
    return sorted(path[len(prefix) + 1:] for path in fs.list_files(prefix + "/**"))


def test_stale_shards_and_overwrite_on_gcs(storage_emulator, gcs_bucket, tmp_path, shared, zh_vocab):
    rows = (shared / "data" / "classifier" / "chnsenticorp" / "dev.tsv").read_text(encoding="utf-8").splitlines()
    source = fs.join(gcs_bucket, "in", "reviews.tsv")
    fs.write_bytes(source, ("\n".join(rows[:40]) + "\n").encode("utf-8"))
    vocab = fs.join(gcs_bucket, "in", "vocab.txt")
    fs.copy(zh_vocab, vocab)

    fresh = gcs_bucket + "/fresh"
    classifier(source, vocab, fresh, 2)
    fresh_objects = objects_under(fresh)
    assert "classifier-00001-of-00002.tfrecord" in fresh_objects and "_COMPLETE" in fresh_objects

    # What a run with --num-shards 3, killed while writing, leaves behind (no _COMPLETE, no info.json).
    killed = gcs_bucket + "/killed"
    for name in ("classifier-00000-of-00003.tfrecord", "classifier-00001-of-00003.tfrecord",
                 "classifier-00002-of-00003.tfrecord.tmp-0123abcd", "dead_letters/dead_letters-00000-of-00001"
                 ".jsonl.tmp-4567ef01"):
        fs.write_bytes(fs.join(killed, name), b"left by a killed run")
    classifier(source, vocab, killed, 2)
    assert objects_under(killed) == fresh_objects
    for name in fresh_objects:
        if name.endswith(".tfrecord"):
            assert fs.read_bytes(fs.join(killed, name)) == fs.read_bytes(fs.join(fresh, name)), name

    # --overwrite over a complete output that had more shards.
    over = gcs_bucket + "/over"
    classifier(source, vocab, over, 3)
    assert "classifier-00002-of-00003.tfrecord" in objects_under(over)
    assert main(["classifier", "--input", source, "--header", "--vocab", vocab, "--num-shards", "2",
                 "--output", over]) == 2  # a complete output is never replaced without --overwrite
    classifier(source, vocab, over, 2, "--overwrite")
    assert objects_under(over) == fresh_objects
    for name in fresh_objects:
        if name.endswith(".tfrecord"):
            assert fs.read_bytes(fs.join(over, name)) == fs.read_bytes(fs.join(fresh, name)), name


def test_two_runs_racing_for_latest_on_gcs(storage_emulator, gcs_bucket):
    root = gcs_bucket + "/runs"
    publish_latest(root, "nightly", "run-0")
    runs = ("run-a", "run-b")
    seen, stop = [], threading.Event()

    def reader():
        while not stop.is_set():
            seen.append(read_latest(root, "nightly"))

    def publisher(run_id):
        for _ in range(8):
            publish_latest(root, "nightly", run_id)

    polling = threading.Thread(target=reader)
    polling.start()
    racers = [threading.Thread(target=publisher, args=(run_id,)) for run_id in runs]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    publish_latest(root, "nightly", "run-b")  # the run that publishes last wins
    stop.set()
    polling.join()
    assert seen  # the reader polled while the two runs published
    assert set(seen) <= {"run-0", "run-a", "run-b"}, set(seen)  # never None, never a torn value
    assert read_latest(root, "nightly") == "run-b"
    assert [name for name in objects_under(root) if "tmp" in name] == []  # no temporary left behind
