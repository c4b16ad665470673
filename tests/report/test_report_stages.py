"""Each job's report records its stages on the run's time axis and draws them (report.json timing.stages)."""
import json

from bertprep import cli


def _stages(directory):
    with open(directory / "report.json", encoding="utf-8") as handle:
        report = json.load(handle)
    return report, report["timing"]["stages"]


def _check_axis(report, stages):
    elapsed = report["timing"]["elapsed_seconds"]
    for stage in stages:
        assert 0.0 <= stage["start"] <= stage["end"] <= elapsed + 0.01, stage
    assert [stage["start"] for stage in stages] == sorted(stage["start"] for stage in stages)
    assert "stages" in [plot["id"] for plot in report["plots"] if "error" not in plot]


def _by_kind(stages):
    kinds = {}
    for stage in stages:
        kinds.setdefault(stage["stage"], []).append(stage)
    return kinds


def test_mask_probs_report_holds_reading_counting_ranking_writing_and_publishing(shared, tmp_path):
    pairs = tmp_path / "pairs.tsv"
    with open(shared / "data" / "csc" / "sighan15_train.tsv", encoding="utf-8") as handle:
        pairs.write_text("".join(line for _, line in zip(range(60), handle)), encoding="utf-8")
    out = tmp_path / "out"
    assert cli.main(["mask-probs", "--input", str(pairs), "--output", str(out)]) == 0
    report, stages = _stages(out)
    _check_axis(report, stages)
    kinds = _by_kind(stages)
    assert set(kinds) == {"reading", "counting", "ranking", "writing", "publishing"}
    names = [stage["name"] for stage in kinds["ranking"]]
    assert names == ["fitting the candidate ranker", "building the candidate indexes", "ranking candidates"]
    # The order of the work: counting ends before the ranker is fitted, ranking before the tables are
    # written, and publishing (which draws this report) comes last.
    assert kinds["counting"][0]["end"] <= kinds["ranking"][0]["start"]
    assert kinds["ranking"][-1]["end"] <= max(stage["end"] for stage in kinds["writing"])
    assert kinds["publishing"][0]["start"] >= max(stage["start"] for stage in stages if stage["stage"] != "publishing")
    assert {stage["name"] for stage in kinds["writing"]} >= {"writing confusion_sets", "writing char_stats",
                                                             "writing confusion_pairs", "writing mask_probability"}


def test_pretraining_report_holds_reading_building_and_publishing(shared, zh_vocab, tmp_path):
    corpus = tmp_path / "corpus.txt"
    with open(shared / "data" / "corpus" / "zh_peopledaily_docs.txt", encoding="utf-8") as handle:
        corpus.write_text("".join(line for _, line in zip(range(50), handle)), encoding="utf-8")
    out = tmp_path / "out"
    assert cli.main(["pretraining", "--input", str(corpus), "--vocab", zh_vocab, "--output", str(out)]) == 0
    report, stages = _stages(out)
    _check_axis(report, stages)
    kinds = _by_kind(stages)
    assert set(kinds) == {"reading", "building", "publishing"}
    assert kinds["building"][0]["end"] <= kinds["publishing"][0]["start"] + 0.01
