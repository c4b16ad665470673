"""Shared fixtures: paths to ../shared data and a quiet Beam."""
import logging
import os
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
SHARED = pathlib.Path(os.environ.get("BERTPREP_SHARED", REPO.parent / "shared"))

logging.getLogger("apache_beam").setLevel(logging.ERROR)
# Worker subprocesses of multi-process runs import test helper modules from here.
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO / "tests"), os.environ.get("PYTHONPATH")) if p)


@pytest.fixture(scope="session")
def shared():
    if not SHARED.is_dir():
        pytest.skip("../shared is not present")
    return SHARED


@pytest.fixture(scope="session")
def zh_vocab(shared):
    return str(shared / "data" / "vocab" / "zh_vocab.txt")


@pytest.fixture(scope="session")
def shared_csc(shared):
    """The SIGHAN/CSC files, as a directory path string."""
    return str(shared / "data" / "csc")


@pytest.fixture(scope="session")
def en_vocab(shared):
    return str(shared / "data" / "vocab" / "en_uncased_vocab.txt")


@pytest.fixture(scope="session")
def peopledaily_head(shared, tmp_path_factory):
    """The first 2,200 lines of the shared People's Daily corpus: the corpus the confusion-masking shares of
    PLOME and of --confusion-mix are measured on."""
    path = tmp_path_factory.mktemp("peopledaily_head") / "head.txt"
    with open(shared / "data" / "corpus" / "zh_peopledaily_docs.txt", encoding="utf-8") as handle:
        path.write_text("".join(next(handle) for _ in range(2200)), encoding="utf-8")
    return str(path)


@pytest.fixture(scope="session")
def sighan_sets(shared, zh_vocab, tmp_path_factory):
    """mask-probs on the shared SIGHAN 2015 pairs with the zh vocabulary, default --top-k: the slow run (tens of
    seconds), made once a session for the confusion-mix and FASPell tests."""
    from bertprep import cli

    output = tmp_path_factory.mktemp("sighan_sets") / "mask_probs"
    assert cli.main(["mask-probs", "--input", str(shared / "data" / "csc" / "sighan15_train.tsv"), "--vocab",
                     zh_vocab, "--output", str(output), "--workers", "1"]) == 0
    return str(output)
