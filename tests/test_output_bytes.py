"""The fine-tuning jobs' output bytes, recorded before the restructuring, stay identical.

Each job runs on shared data and every file it publishes (record shards, side files, dead letters) is
hashed; the digests must equal those in `output_digests.json`, which were written by the code as it
stood before the package was reorganised. The input path is replaced by a placeholder in dead letters and side
files, which name the file they came from, so the digests hold wherever `../shared` lives.

To record the digests again after an intended change of output: `BERTPREP_RECORD_DIGESTS=1 pytest
tests/test_output_bytes.py` (and say in the commit why the bytes changed).
"""
import hashlib
import json
import os
import pathlib

import pytest

from test_classifier_helpers import run_cli

DIGESTS = pathlib.Path(__file__).with_name("output_digests.json")
SQUAD_SETTINGS = ("--max-seq-length", 128, "--doc-stride", 32, "--max-query-length", 24)


def _jobs(shared, zh_vocab, en_vocab):
    data = shared / "data"
    squad_vi = data / "squad" / "vi_squad_v2_train_sub.json"
    return {
        "classifier_chnsenticorp_dev": ("classifier", "--input", data / "classifier" / "chnsenticorp" / "dev.tsv",
                                        "--preset", "chnsenticorp", "--vocab", zh_vocab, "--num-shards", 2),
        "squad_train_vi": ("squad", "--input", squad_vi, "--vocab", en_vocab, "--num-shards", 3,
                           "--version-2-with-negative", *SQUAD_SETTINGS),
        "squad_eval_vi": ("squad", "--split", "eval", "--input", squad_vi, "--vocab", en_vocab, "--num-shards", 2,
                          "--version-2-with-negative", *SQUAD_SETTINGS),
        "squad_train_cmrc": ("squad", "--input", data / "squad" / "cmrc2018_trial.json", "--vocab", zh_vocab,
                             "--num-shards", 2, *SQUAD_SETTINGS),
        "tagging_peopledaily_dev": ("tagging", "--input", data / "ner" / "peopledaily_dev.bio", "--vocab", zh_vocab,
                                    "--max-seq-length", 64, "--num-shards", 2),
    }


def published_digests(directory: pathlib.Path, placeholders: dict) -> dict:
    """sha256 of every published data file (not info.json or the report, which hold timings and versions)."""
    digests = {}
    for path in sorted(directory.rglob("*")):
        name = path.relative_to(directory).as_posix()
        if not path.is_file() or name in ("info.json", "_COMPLETE") or name.startswith("report"):
            continue
        data = path.read_bytes()
        if name.endswith(".jsonl"):  # dead letters and side files name their source file
            for text, placeholder in placeholders.items():
                data = data.replace(text.encode("utf-8"), placeholder.encode("utf-8"))
        digests[name] = hashlib.sha256(data).hexdigest()
    return digests


@pytest.mark.parametrize("job", ["classifier_chnsenticorp_dev", "squad_train_vi", "squad_eval_vi",
                                 "squad_train_cmrc", "tagging_peopledaily_dev"])
def test_output_bytes_equal_those_recorded_before_the_restructuring(shared, zh_vocab, en_vocab, tmp_path, job):
    argv = _jobs(shared, zh_vocab, en_vocab)[job]
    out = tmp_path / job
    run_cli(*argv, "--output", out)
    placeholders = {str(shared): "$SHARED", json.dumps(str(shared))[1:-1]: "$SHARED"}
    got = published_digests(out, placeholders)
    recorded = json.loads(DIGESTS.read_text()) if DIGESTS.exists() else {}
    if os.environ.get("BERTPREP_RECORD_DIGESTS"):
        recorded[job] = got
        DIGESTS.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
        return
    assert job in recorded, "no recorded digests for %s" % job
    assert got == recorded[job]
