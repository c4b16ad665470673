"""`pretraining --wrong-input-instances faspell` against FASPell's own create_data.py + create_tf_record.py."""
import json
import os

from bertprep import cli

# Measured with FASPell's bert_modified/create_data.py and create_tf_record.py (iqiyi/FASPell at 5060b22, run
# unchanged from a fetched copy by benchmarks/csc_reference_parity.py faspell, TensorFlow's v1 API): the
# 2,337 equal-length pairs of the shared sighan15_train.tsv, numpy seeded 12345 for create_data.py's partly
# corrected copies, the mask_probability.sav of `bertprep mask-probs --input sighan15_train.tsv --vocab
# zh_vocab.txt`, create_training_instances with max_seq_length 128, dupe factor 1, 20 predictions at most,
# masked_lm_prob 0.15, short_seq_prob 0.1, random.Random(12345). Shares of the predictions in percent: error
# positions (input the wrong character), kept (input equals label), [MASK], random replacements.
FASPELL_INSTANCES = 5792
FASPELL_PREDICTIONS_PER_INSTANCE = 3.965
FASPELL_SHARES = {"real_error": 35.79, "keep": 18.69, "mask": 40.38, "random": 5.13}


def test_faspell_instances_match_faspells_figures(shared, zh_vocab, sighan_sets, tmp_path):
    document = tmp_path / "one_document.txt"  # --input is required; one short document adds one instance
    document.write_text("一个句子。\n另一个句子。\n", encoding="utf-8")
    out = tmp_path / "faspell"
    assert cli.main(["pretraining", "--input", str(document), "--vocab", zh_vocab, "--output", str(out),
                     "--workers", "1", "--dupe-factor", "1",
                     "--wrong-input", str(shared / "data" / "csc" / "sighan15_train.tsv"),
                     "--wrong-input-instances", "faspell",
                     "--mask-probability", os.path.join(sighan_sets, "mask_probability.sav")]) == 0
    with open(os.path.join(out, "info.json"), encoding="utf-8") as handle:
        info = json.load(handle)
    instances = info["counts"]["records_out"]
    assert abs(instances - FASPELL_INSTANCES) <= 0.02 * FASPELL_INSTANCES
    assert abs(info["stats"]["mean_predictions_per_instance"] - FASPELL_PREDICTIONS_PER_INSTANCE) <= 0.1
    kinds = info["stats"]["masked_position_kinds"]
    total = sum(kinds.values())
    for kind, share in FASPELL_SHARES.items():
        assert abs(100.0 * kinds[kind] / total - share) <= 2.0, (kind, kinds)
    assert kinds["phonetic"] == kinds["glyph"] == 0
