"""mask-probs keys each pair's random draws by its text and occurrence number, not by the path it was read
from: the same pairs in another directory or under another file name give byte-identical tables."""
import json
import os

from bertprep.options.mask_probs import MaskProbsOptions
from bertprep.pipelines import registry
from bertprep.runtime import job_path

TABLE_FILES = ("char_stats.parquet", "char_stats.tsv", "confusion_pairs.parquet", "confusion_pairs.tsv",
               "confusion_sets.parquet", "confusion_sets.tsv", "mask_probability.parquet", "mask_probability.tsv",
               "mask_probability.sav")


def _run(input_path, output, seed=12345):
    options = MaskProbsOptions(input=str(input_path), output=str(output), seed=seed, workers=1,
                               sources="observed", top_k=5)
    job_path.run(registry.pipeline("mask-probs"), options, progress=False, summary=False)
    return output


def _without_paths(info, *paths):
    text = json.dumps(info, sort_keys=True, ensure_ascii=False)
    for path in paths:
        text = text.replace(str(path), "<path>")
    return json.loads(text)


def test_the_same_pairs_elsewhere_or_renamed_give_identical_tables(tmp_path, shared_csc):
    with open(os.path.join(shared_csc, "sighan15_train.tsv"), encoding="utf-8") as handle:
        lines = [next(handle) for _ in range(300)]
    lines += lines[:40]  # repeated pairs: each copy draws by its occurrence number
    first, second = tmp_path / "a" / "pairs.tsv", tmp_path / "b" / "c" / "other_name.tsv"
    for path in (first, second):
        path.parent.mkdir(parents=True)
        path.write_text("".join(lines) + "bad line without a tab\n", encoding="utf-8")
    one = _run(first, tmp_path / "out_one")
    two = _run(second, tmp_path / "out_two")
    for name in TABLE_FILES:
        assert (one / name).read_bytes() == (two / name).read_bytes(), name
    infos = [json.loads((out / "info.json").read_text(encoding="utf-8")) for out in (one, two)]
    for info in infos:
        for volatile in ("timing", "created_at", "finished_at", "started_at", "environment", "run"):
            info.pop(volatile, None)
    assert _without_paths(infos[0], first, one) == _without_paths(infos[1], second, two)
    dead = ["".join(path.read_text(encoding="utf-8") for path in sorted((out / "dead_letters").iterdir()))
            for out in (one, two)]
    assert dead[0].replace(str(first), "<path>") == dead[1].replace(str(second), "<path>") != ""

    # The draws do depend on the seed (pairs with two or more errors get partly corrected copies).
    reseeded = _run(first, tmp_path / "out_reseeded", seed=7)
    assert (reseeded / "char_stats.parquet").read_bytes() != (one / "char_stats.parquet").read_bytes()
