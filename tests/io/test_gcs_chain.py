"""The README's confusion-aware chain with every input and output on gs:// (a local Cloud Storage emulator).

`mask-probs --confusion-file gs://…` writes its tables to gs://, and `pretraining --mask-probability DIR
--confusion-sets DIR` reads them from there (it stopped with "file not found" while the confusion
reader used `os.path`); `--confusion-sets` also takes a published `char:candidates` file on gs://, and
FASPell's `--wrong-input` pairs and `mask_probability.sav` are read from gs:// too. The pre-training shards
written to gs:// are byte-identical to the same run on local disk fed the same tables, and so are the
mask-probs tables (its draws are keyed by content, not by the input path).
"""
import pathlib

from bertprep.cli import main
from bertprep.io import fs

from gcs_emulator import (comparable_info, download_tree, gcs_bucket, published_files, small_csc_inputs,  # noqa: F401
                          storage_emulator, upload)


def run(*argv):
    status = main([str(arg) for arg in argv])
    assert status == 0, "bertprep %s exited %s" % (" ".join(map(str, argv)), status)


def test_mask_probs_then_confusion_aware_pretraining_on_gcs(storage_emulator, gcs_bucket, tmp_path, shared):
    local_in = small_csc_inputs(shared, tmp_path / "in")
    remote_in = upload(local_in, gcs_bucket + "/in")
    mask_probs = gcs_bucket + "/out/mp"
    run("mask-probs", "--input", remote_in + "/pairs.tsv", "--vocab", remote_in + "/vocab.txt",
        "--confusion-file", remote_in + "/confusion.txt", "--output", mask_probs)
    assert fs.exists(mask_probs + "/_COMPLETE")
    run("mask-probs", "--input", local_in / "pairs.tsv", "--vocab", local_in / "vocab.txt",
        "--confusion-file", local_in / "confusion.txt", "--output", tmp_path / "local_mp")
    remote_mp = download_tree(mask_probs, tmp_path / "remote_mp")
    assert_same_outputs(remote_mp, tmp_path / "local_mp", {
        str(local_in): "$IN", remote_in: "$IN", str(tmp_path / "local_mp"): "$OUT", mask_probs: "$OUT"})

    # The chain reads the gs:// directory; the local twin reads the same tables, downloaded.
    chain = gcs_bucket + "/out/pt"
    common = ("--dupe-factor", 1, "--max-seq-length", 64, "--num-shards", 2)
    run("pretraining", "--input", remote_in + "/docs.txt", "--vocab", remote_in + "/vocab.txt",
        "--mask-probability", mask_probs, "--confusion-sets", mask_probs, "--output", chain, *common)
    run("pretraining", "--input", local_in / "docs.txt", "--vocab", local_in / "vocab.txt",
        "--mask-probability", remote_mp, "--confusion-sets", remote_mp, "--output", tmp_path / "local_pt", *common)
    remote_pt = download_tree(chain, tmp_path / "remote_pt")
    assert_same_outputs(remote_pt, tmp_path / "local_pt", {
        str(local_in): "$IN", remote_in: "$IN", str(remote_mp): "$MP", mask_probs: "$MP",
        str(tmp_path / "local_pt"): "$OUT", chain: "$OUT"})

    # A published char:candidates file and FASPell pairs with the .sav table, all read from gs://.
    faspell = gcs_bucket + "/out/faspell"
    run("pretraining", "--input", remote_in + "/docs.txt", "--vocab", remote_in + "/vocab.txt",
        "--confusion-sets", remote_in + "/confusion.txt", "--wrong-input", remote_in + "/pairs.tsv",
        "--mask-probability", mask_probs + "/mask_probability.sav", "--output", faspell, *common)
    run("pretraining", "--input", local_in / "docs.txt", "--vocab", local_in / "vocab.txt",
        "--confusion-sets", local_in / "confusion.txt", "--wrong-input", local_in / "pairs.tsv",
        "--mask-probability", remote_mp / "mask_probability.sav", "--output", tmp_path / "local_faspell", *common)
    assert_same_outputs(download_tree(faspell, tmp_path / "remote_faspell"), tmp_path / "local_faspell", {
        str(local_in): "$IN", remote_in: "$IN", str(remote_mp): "$MP", mask_probs: "$MP",
        str(tmp_path / "local_faspell"): "$OUT", faspell: "$OUT"})


def assert_same_outputs(remote: pathlib.Path, local: pathlib.Path, placeholders: dict) -> None:
    """Every published data file byte-identical (dead letters after replacing the paths), info.json equal
    but for paths and times."""
    remote_files, local_files = published_files(remote, placeholders), published_files(local, placeholders)
    assert remote_files == local_files
    assert any(name.endswith((".tfrecord", ".parquet")) for name in local_files)
    assert comparable_info(remote / "info.json", placeholders) == comparable_info(local / "info.json", placeholders)
