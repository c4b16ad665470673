"""Every data job, `inspect` and `report` with all inputs and outputs on gs:// (a local Cloud Storage
emulator), each published data file byte-identical to the same run on local disk.

Jobs: `pretraining` (plain), `classifier --labels gs://…`, `tagging`, `squad --split eval --side-file` then
`squad-predict` reading that gs:// output and gs:// logits, and `embed` with a Hugging Face safetensors
model directory on gs:// (config.json, vocab.txt, model.safetensors read through the storage door).
Dead letters and side files are compared after replacing the input prefix; info.json equal but for paths
and times. The confusion-aware chain is in test_gcs_chain.py, the scheduler in test_gcs_scheduler.py.
"""
import json
import pathlib

import numpy as np

from bertprep.cli import main
from bertprep.io import fs

from gcs_emulator import (comparable_info, download_tree, gcs_bucket, json_differences, published_files,  # noqa: F401
                          storage_emulator, upload)
from trainer_data import tiny_config


def run(*argv):
    status = main([str(arg) for arg in argv])
    assert status == 0, "bertprep %s exited %s" % (" ".join(map(str, argv)), status)


def head(path: pathlib.Path, lines: int) -> str:
    with open(path, encoding="utf-8") as handle:
        return "".join(line for _, line in zip(range(lines), handle))


def small_inputs(shared: pathlib.Path, directory: pathlib.Path) -> pathlib.Path:
    data = shared / "data"
    directory.mkdir(parents=True)
    (directory / "docs.txt").write_text(head(data / "corpus" / "zh_peopledaily_docs.txt", 30), encoding="utf-8")
    (directory / "reviews.tsv").write_text(head(data / "classifier" / "chnsenticorp" / "dev.tsv", 25) +
                                           "1\n", encoding="utf-8")  # the last row has no text: a dead letter
    (directory / "labels.txt").write_text("0\n1\n", encoding="utf-8")
    (directory / "ner.bio").write_text(head(data / "ner" / "peopledaily_dev.bio", 400), encoding="utf-8")
    squad = json.loads((data / "squad" / "cmrc2018_trial.json").read_text(encoding="utf-8"))
    squad["data"] = squad["data"][:2]
    (directory / "squad.json").write_text(json.dumps(squad, ensure_ascii=False), encoding="utf-8")
    (directory / "sentences.txt").write_text("the cat sat on the mat .\na dog ran\nthe cat\n", encoding="utf-8")
    tiny_hugging_face_model(directory / "model")
    return directory


def tiny_hugging_face_model(directory: pathlib.Path) -> None:
    """A random tiny BERT saved as Hugging Face saves one: config.json, vocab.txt, model.safetensors."""
    from safetensors.numpy import save_file

    from bertprep.trainer import checkpoint_import
    from bertprep.trainer.heads import build_task_model

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "a", "dog", "ran", "."]
    config = tiny_config(vocab_size=len(vocab))
    model = build_task_model("pretraining", config, seed=5)
    tensors = {"bert." + name: np.ascontiguousarray(variable.numpy().T if transpose else variable.numpy())
               for name, (variable, transpose) in checkpoint_import.variable_map(model, "hf").items()
               if not name.startswith("cls.")}
    directory.mkdir()
    save_file(tensors, str(directory / "model.safetensors"))
    (directory / "config.json").write_text(json.dumps({**config.to_dict(), "model_type": "bert"}), encoding="utf-8")
    (directory / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")


def test_every_job_inspect_and_report_on_gcs_equal_local(storage_emulator, gcs_bucket, tmp_path, shared, zh_vocab):
    local_in = small_inputs(shared, tmp_path / "in")
    remote_in = upload(local_in, gcs_bucket + "/in")
    vocab = upload(zh_vocab, remote_in + "/vocab.txt")
    jobs = {
        "pretraining": ("pretraining", "--input", "{in}/docs.txt", "--vocab", "{vocab}", "--dupe-factor", 1,
                        "--max-seq-length", 64, "--num-shards", 2),
        "classifier": ("classifier", "--input", "{in}/reviews.tsv", "--labels", "{in}/labels.txt", "--header",
                       "--vocab", "{vocab}", "--max-seq-length", 32, "--num-shards", 2),
        "tagging": ("tagging", "--input", "{in}/ner.bio", "--vocab", "{vocab}", "--max-seq-length", 32),
        "squad": ("squad", "--split", "eval", "--input", "{in}/squad.json", "--vocab", "{vocab}", "--side-file",
                  "--max-seq-length", 96, "--doc-stride", 32),
        "embed": ("embed", "--input", "{in}/sentences.txt", "--model", "{in}/model", "--token-vectors", "float16"),
    }
    for name, argv in jobs.items():
        for side, inputs, vocabulary, output in (("gs", remote_in, vocab, gcs_bucket + "/out/" + name),
                                                 ("local", str(local_in), zh_vocab, str(tmp_path / "local" / name))):
            run(*[str(arg).format(**{"in": inputs, "vocab": vocabulary}) for arg in argv], "--output", output)
        remote = download_tree(gcs_bucket + "/out/" + name, tmp_path / "remote" / name)
        local = tmp_path / "local" / name
        placeholders = {str(local_in): "$IN", remote_in: "$IN", zh_vocab: "$VOCAB", vocab: "$VOCAB",
                        str(local): "$OUT", gcs_bucket + "/out/" + name: "$OUT"}
        assert published_files(remote, placeholders) == published_files(local, placeholders), name
        for report in ("info.json", "report.json"):  # equal but for paths and times
            assert json_differences(comparable_info(remote / report, placeholders),
                                    comparable_info(local / report, placeholders)) == [], (name, report)
    classifier_dead = published_files(tmp_path / "local" / "classifier", {})
    assert any(name.startswith("dead_letters/") and data for name, data in classifier_dead.items())

    # squad-predict reads the gs:// eval output (its side file) and gs:// logits, and writes to gs://.
    info = json.loads((tmp_path / "local" / "squad" / "info.json").read_text(encoding="utf-8"))
    length = info["config"]["max_seq_length"]
    features = [row for name in info["side_files"]["features"]
                for row in map(json.loads, (tmp_path / "local" / "squad" / name).read_text().splitlines())]
    logits = "".join(json.dumps({"unique_id": row["unique_id"], "start_logits": [float(i % 7) for i in range(length)],
                                 "end_logits": [float(i % 5) for i in range(length)]}) + "\n" for row in features)
    (tmp_path / "logits.jsonl").write_text(logits, encoding="utf-8")
    remote_logits = upload(tmp_path / "logits.jsonl", gcs_bucket + "/in/logits.jsonl")
    run("squad-predict", "--eval-output", gcs_bucket + "/out/squad", "--logits", remote_logits,
        "--output", gcs_bucket + "/out/predictions")
    run("squad-predict", "--eval-output", tmp_path / "local" / "squad", "--logits", tmp_path / "logits.jsonl",
        "--output", tmp_path / "local" / "predictions")
    for name in ("predictions.json", "nbest_predictions.json", "eval.json"):
        assert fs.read_bytes(gcs_bucket + "/out/predictions/" + name) == \
            (tmp_path / "local" / "predictions" / name).read_bytes(), name

    # inspect and report read and write the gs:// output.
    assert main(["inspect", gcs_bucket + "/out/pretraining", "--json"]) == 0
    fs.delete([gcs_bucket + "/out/pretraining/report.html"])
    assert main(["report", gcs_bucket + "/out/pretraining"]) == 0
    assert fs.exists(gcs_bucket + "/out/pretraining/report.html")
    assert main(["inspect", gcs_bucket + "/out/classifier"]) == 0
