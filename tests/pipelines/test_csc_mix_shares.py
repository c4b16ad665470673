"""`pretraining --confusion-sets` gives the --confusion-mix it is asked for, and says so when a kind runs out."""
import json
import os

from bertprep import cli

REQUESTED = {"same_pinyin": 0.30, "similar_pinyin": 0.30, "glyph": 0.15, "random": 0.10, "keep": 0.15}
TOLERANCE_POINTS = 1.5


def run_pretraining(corpus, zh_vocab, out, *options):
    return cli.main(["pretraining", "--input", corpus, "--vocab", zh_vocab, "--output", str(out), "--workers", "1",
                     *options])


def info_of(out):
    with open(os.path.join(out, "info.json"), encoding="utf-8") as handle:
        return json.load(handle)


def test_the_requested_mix_is_the_realized_mix(sighan_sets, peopledaily_head, zh_vocab, tmp_path):
    import pyarrow.parquet as pq

    # The ranked top-15 sets hold few look-alikes; mask-probs keeps glyph candidates beside them.
    kinds = pq.read_table(os.path.join(sighan_sets, "confusion_kinds.parquet")).to_pylist()
    assert sum(row["kind"] == "glyph" and row["rank"] == 1 for row in kinds) > 5000
    out = tmp_path / "mix"
    assert run_pretraining(peopledaily_head, zh_vocab, out, "--dupe-factor", "2", "--confusion-sets",
                           sighan_sets) == 0
    info = info_of(out)
    realized = info["stats"]["confusion_mix_realized"]
    total = sum(realized.values())
    assert total > 20000
    for kind, share in REQUESTED.items():
        assert abs(100.0 * realized.get(kind, 0) / total - 100 * share) <= TOLERANCE_POINTS, (kind, realized)
    assert not [w for w in info["warnings"] if w["code"] == "confusion_mix"]


def test_a_kind_that_runs_out_is_a_warning_and_fails_with_strict(shared, peopledaily_head, zh_vocab, tmp_path,
                                                                  capsys):
    small = tmp_path / "docs.txt"
    with open(peopledaily_head, encoding="utf-8") as handle:
        small.write_text("".join(next(handle) for _ in range(120)), encoding="utf-8")
    # Same-pinyin candidates only: the glyph half of this mix cannot be given.
    sets = "same_pinyin=%s" % (shared / "data" / "csc" / "plome" / "same_pinyin.txt")
    mix = "same_pinyin=0.5,glyph=0.5"
    out = tmp_path / "out"
    assert run_pretraining(str(small), zh_vocab, out, "--confusion-sets", sets, "--confusion-mix", mix) == 0
    info = info_of(out)
    realized = info["stats"]["confusion_mix_realized"]
    assert realized.get("glyph", 0) == 0 and info["stats"]["confusion_mix_shortfall"]["glyph"] > 0
    warnings = [w["message"] for w in info["warnings"] if w["code"] == "confusion_mix"]
    assert len(warnings) == 1
    assert warnings[0].startswith("--confusion-mix asked 50.0% glyph replacements but the predictions got 0.0%")
    terminal = capsys.readouterr()
    assert "WARNING: " + warnings[0] in terminal.out + terminal.err
    with open(os.path.join(out, "report.html"), encoding="utf-8") as handle:
        assert "asked 50.0% glyph replacements" in handle.read()
    strict = tmp_path / "strict"
    assert run_pretraining(str(small), zh_vocab, strict, "--confusion-sets", sets, "--confusion-mix", mix,
                           "--strict") != 0
    assert "glyph replacements" in capsys.readouterr().err
    assert not os.path.exists(os.path.join(strict, "_COMPLETE"))


def test_characters_with_none_of_the_kinds_asked_for_are_not_predicted():
    import random

    from bertprep.transforms.csc import confusion_masking
    from bertprep.transforms.pretraining.masking import MaskingOptions

    vocab = {token: index for index, token in enumerate(["[CLS]", "[SEP]", "[MASK]", "在", "再", "的", "得"])}
    table = confusion_masking.ConfusionTable({}, vocab)
    table.by_id = {vocab["在"]: {"same_pinyin": [vocab["再"]]}, vocab["的"]: {"similar_pinyin": [vocab["得"]]}}
    masker = confusion_masking.ConfusionMasker(
        MaskingOptions(masked_lm_prob=0.5), vocab["[MASK]"], (0, 1), len(vocab), [3, 4, 5, 6], table,
        confusion_masking.parse_mix("same_pinyin=0.5,glyph=0.5"))
    tokens = [0] + [vocab["在"], vocab["的"]] * 4 + [1]
    rng = random.Random(3)
    for _ in range(50):
        masked = masker.mask(tokens, None, rng)
        assert all(tokens[p] == vocab["在"] for p in masked.positions)  # 的 has no same-pinyin or glyph candidate
        assert set(masked.mix_kinds) <= {"same_pinyin"} and set(masked.shortfall) <= {"glyph", "same_pinyin"}
