"""Helpers shared by the classifier, squad and tagging job tests (no tests here).

They run a command in-process and read an output directory back with its own schema."""
import glob
import json
import os

from bertprep import schemas
from bertprep.cli import main
from bertprep.io import tfrecord


def run_cli(*argv):
    status = main([str(arg) for arg in argv])
    assert status == 0, "bertprep %s exited %s" % (" ".join(map(str, argv)), status)


def read_output(directory):
    """(info, decoded records in file order) of a complete job output, decoded with its own schema."""
    assert os.path.exists(os.path.join(directory, "_COMPLETE"))
    with open(os.path.join(directory, "info.json"), encoding="utf-8") as handle:
        info = json.load(handle)
    schema = schemas.RecordSchema.from_json(info["schema"])
    records = []
    for shard in info["shards"]:
        for _, data in tfrecord.read_file(os.path.join(directory, shard["file"])):
            records.append(schema.decode(data))
    return info, records


def dead_letters(directory):
    rows = []
    for path in sorted(glob.glob(os.path.join(directory, "dead_letters", "*.jsonl"))):
        with open(path, encoding="utf-8") as handle:
            rows.extend(json.loads(line) for line in handle)
    return rows


def read_jsonl(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def assert_accounting(info):
    counts = info["counts"]
    parts = sum(counts.get(name, 0) for name in info.get("accounting", ["read", "written", "dead_lettered"])[1:])
    assert counts["read"] == parts, counts
