"""`pretraining --confusion-masking plome` against PLOME's own mask.py on the same corpus and confusion files."""
import glob
import json
import os

from bertprep import cli, schemas
from bertprep.io import tfrecord
from bertprep.transforms.tokenization.wordpiece import is_cjk_char

# Measured with PLOME's pre_train_src/mask.py (liushulinle/PLOME at 8fff6da, run unchanged from a fetched copy by
# benchmarks/csc_reference_parity.py plome): the first 2,200 lines of the shared People's Daily corpus, each
# line `[CLS] tokens [SEP]` (zh vocabulary, at most 128), 5 passes, Python's random seeded 12345, its three
# shared confusion files. Shares of the predictions, in percent; 11.3% of the real tokens were predicted, and
# non-CJK tokens (11.2% of the tokens) were predicted too (1,363 of them), as random or kept.
PLOME_SHARES = {"same_pinyin": 30.46, "similar_pinyin": 25.66, "glyph": 15.06, "random": 11.53, "keep": 17.30,
                "mask": 0.0}
TOLERANCE_POINTS = 1.5


def plome_files(shared):
    folder = shared / "data" / "csc" / "plome"
    return "same_pinyin={0}/same_pinyin.txt,similar_pinyin={0}/simi_pinyin.txt,glyph={0}/same_stroke.txt".format(
        folder)


def predicted_labels(out, schema):
    """The label ids of every prediction in the output's shards."""
    for path in sorted(glob.glob(os.path.join(out, "pretraining-*.tfrecord"))):
        for _, record in tfrecord.read_file(path):
            features = schema.decode(record)
            yield from (int(label) for label, weight in zip(features["masked_lm_ids"], features["masked_lm_weights"])
                        if weight > 0)


def test_plome_mode_gives_plomes_shares(shared, zh_vocab, peopledaily_head, tmp_path):
    out = tmp_path / "plome"
    assert cli.main(["pretraining", "--input", peopledaily_head, "--vocab", zh_vocab, "--output", str(out),
                     "--workers", "1", "--dupe-factor", "2", "--confusion-masking", "plome",
                     "--confusion-sets", plome_files(shared)]) == 0
    with open(os.path.join(out, "info.json"), encoding="utf-8") as handle:
        info = json.load(handle)
    realized = info["stats"]["confusion_mix_realized"]
    total = sum(realized.values())
    assert total > 20000
    for kind, share in PLOME_SHARES.items():
        assert abs(100.0 * realized.get(kind, 0) / total - share) <= TOLERANCE_POINTS, (kind, realized)
    # Positions whose drawn kind has no candidate are dropped, as PLOME drops them: reported, not warned about.
    shortfall = info["stats"]["confusion_mix_shortfall"]
    assert shortfall["similar_pinyin"] > shortfall["glyph"] > 0
    assert not [w for w in info["warnings"] if w["code"] == "confusion_mix"]
    kinds = info["stats"]["masked_position_kinds"]
    assert kinds["mask"] == 0 and kinds["real_error"] == 0
    # Every token but [CLS], [SEP] and [UNK] is a candidate: non-CJK tokens are predicted too (random or kept).
    with open(zh_vocab, encoding="utf-8") as handle:
        tokens = [line.rstrip("\n") for line in handle]
    labels = [tokens[label] for label in predicted_labels(out, schemas.for_kind("pretraining", info["config"]))]
    assert len(labels) == total
    non_cjk = sum(not is_cjk_char(token) for token in labels)
    assert 0.03 * total < non_cjk < 0.2 * total
