"""The run report: which plots appear for which stats, the figures in report.json, the HTML page,
`bertprep report`, its place before the completion marker, and a Chromium screenshot of it."""
import base64
import io
import json
import os
import re
import shutil
import subprocess

import matplotlib.image
import pytest

from bertprep import cli
from bertprep.io import output as output_lib
from bertprep.runtime import beam_job
from bertprep.report import plots, report

import toy_job

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def full_info():
    """An info.json as a pretraining-like job with every reported statistic would write it."""
    return {
        "kind": "pretraining",
        "tool_version": "test",
        "config": {"max_seq_length": 8, "input": "corpus.txt", "label": "<b>not bold</b>"},
        "accounting": ["read", "used", "dead_lettered"],
        "counts": {"read": 100, "used": 90, "dead_lettered": 10, "records_out": 250},
        "dead_letters_by_reason": {"undecodable": 7, "empty document": 3},
        "shards": [{"file": "pretraining-00000-of-00001.tfrecord", "records": 250}],
        "stats": {
            "sequence_length_histogram": {"4": 50, "6": 100, "8": 100},
            "tokens_per_instance": {"2": 50, "4": 100, "6": 100},
            "unk_rate": {"unk": 5, "tokens": 1000},
            "masked_position_kinds": {"random": 10, "mask": 80, "keep": 10, "glyph": 5, "phonetic": 15,
                                      "real_error": 2},
            "next_sentence_labels": {"1": 150, "0": 100},
            "label_distribution": {"pos": 30, "neg": 70},
            "answers": {"kept": 45, "dropped": 5},
            "top_confusion_pairs": [["的", "地", 7], ["在", "再", 12]],
            "mask_probability_histogram": {"0.0": 10, "0.5": 5, "0.95": 1},
            "predictions_per_instance": {str(n): n for n in range(1, 20)},
            "mean_segment_a_tokens": 3.5,
            "scope_note": "a string stat",
        },
    }


def plot_ids(built):
    return [plot["id"] for plot in built["plots"]]


def decode_png(data):
    assert data.startswith(PNG_SIGNATURE)
    image = matplotlib.image.imread(io.BytesIO(data), format="png")
    assert image.shape[0] > 100 and image.shape[1] > 100
    return image


def test_every_known_stat_gets_its_plot_and_figures(tmp_path):
    timing = {"started_at": 1000.0, "finished_at": 1010.0, "elapsed_seconds": 10.0,
              "samples": [[0.0, 0], [5.0, 60], [9.0, 90]]}
    built, drawn = report.build_report(str(tmp_path), full_info(), timing)
    assert plot_ids(built) == ["counts", "dead_letters", "throughput", "sequence_length", "tokens_per_instance",
                               "unk_rate", "masked_position_kinds", "next_sentence_labels", "label_distribution",
                               "answers", "confusion_pairs", "mask_probabilities_mask_probability_histogram",
                               "predictions_per_instance"]
    assert built["notes"] == []
    for plot in drawn:
        decode_png(plot.png)
    summary = built["summary"]
    assert summary["accounting"]["balanced"] is True
    assert summary["accounting"]["equation"] == "read = used + dead_lettered"
    assert summary["sequence_length"] == {"instances": 250, "mean": 6.4, "share_at_max_seq_length": 0.4}
    assert summary["tokens_per_instance_mean"] == 4.4
    assert summary["unk_rate"] == 0.005
    assert list(summary["masked_position_kinds"]) == ["mask", "keep", "random", "phonetic", "glyph", "real_error"]
    assert summary["masked_position_kinds"]["mask"] == round(80 / 122, 4)
    assert summary["next_sentence_labels"] == {"0": 0.4, "1": 0.6}
    assert summary["label_distribution"] == {"neg": 0.7, "pos": 0.3}
    assert summary["answers"] == {"kept": 45.0, "total": 50.0, "kept_share": 0.9}
    assert summary["top_confusion_pairs"] == [["在", "再", 12.0], ["的", "地", 7.0]]
    assert summary["mask_probability"]["mask_probability_histogram"]["characters"] == 16
    assert summary["timing"] == {"elapsed_seconds": 10.0, "read_per_second": 10.0}
    assert summary["other"] == {"mean_segment_a_tokens": 3.5, "scope_note": "a string stat"}


def test_plots_are_drawn_only_for_stats_that_are_present(tmp_path):
    info = {"kind": "classifier", "counts": {"read": 3, "written": 2, "dead_lettered": 0}, "stats": {}}
    built, _ = report.build_report(str(tmp_path), info, {})
    assert plot_ids(built) == ["counts"]
    assert built["summary"]["accounting"]["balanced"] is False  # 3 != 2 + 0, and the report says so
    # Unusable shapes are kept as figures, never a crash.
    info["stats"] = {"sequence_length_histogram": "not a histogram", "label_distribution": {"a": "x"},
                     "unk_rate": None}
    built, _ = report.build_report(str(tmp_path), info, {})
    assert plot_ids(built) == ["counts"]
    assert set(built["summary"]["other"]) == {"sequence_length_histogram", "label_distribution", "unk_rate"}


def test_single_number_stats_and_kept_dropped_counts(tmp_path):
    info = {"kind": "squad_train", "counts": {}, "config": {"next_sentence": "sop"},
            "stats": {"unk_rate": 0.25, "answers": {"kept": 8, "dropped": {"no answer span": 2}},
                      "next_sentence_labels": {"0": 1, "1": 3}}}
    built, _ = report.build_report(str(tmp_path), info, {})
    assert plot_ids(built) == ["unk_rate", "next_sentence_labels", "answers"]
    assert built["summary"]["unk_rate"] == 0.25
    assert built["summary"]["answers"]["kept_share"] == 0.8
    assert built["plots"][1]["title"] == "SOP label balance"


def test_other_spellings_of_a_statistic_are_not_taken_for_it(tmp_path):
    """One name per statistic: an old or misspelled name is shown as the job's own figure, not drawn
    as the statistic (a job that writes it is caught by the tests below)."""
    info = {"kind": "classifier", "counts": {},
            "stats": {"sequence_lengths": {"4": 2, "6": 1}, "nsp_labels": {"0": 1, "1": 1}}}
    built, _ = report.build_report(str(tmp_path), info, {})
    assert "sequence_length" not in plot_ids(built) and "next_sentence_labels" not in plot_ids(built)
    assert {"sequence_lengths", "nsp_labels"} <= set(plot_ids(built))


def test_pretraining_statistics_are_the_ones_the_report_draws(tmp_path):
    """The pretraining job's own stats object, as it goes into info.json: each gets its section."""
    from bertprep.transforms.pretraining.records import PretrainingStats

    stats = PretrainingStats(max_seq_length=8).to_dict()
    assert set(PretrainingStats.REPORTED) <= set(stats)
    info = {"kind": "pretraining", "counts": {}, "config": {"max_seq_length": 8},
            "stats": {name: stats[name] for name in PretrainingStats.REPORTED}}
    info["stats"]["sequence_length_histogram"] = {"6": 3, "8": 1}  # an empty histogram draws nothing
    info["stats"]["tokens_per_instance"] = {"5": 3, "7": 1}
    built, _ = report.build_report(str(tmp_path), info, {})
    assert {"sequence_length", "tokens_per_instance", "unk_rate", "masked_position_kinds",
            "next_sentence_labels"} <= set(plot_ids(built))
    assert {"sequence_length", "tokens_per_instance_mean", "unk_rate", "masked_position_kinds",
            "next_sentence_labels"} <= set(built["summary"])


@pytest.mark.parametrize("job, drawn", [
    ("classifier", {"sequence_length_histogram", "tokens_per_instance", "unk_rate", "label_distribution"}),
    ("tagging", {"sequence_length_histogram", "tokens_per_instance", "unk_rate", "tag_distribution"}),
])
def test_finetune_statistics_are_the_ones_the_report_draws(job, drawn):
    """The names a fine-tuning job publishes (its SUMMED_STATS) include every statistic the report has a
    section for that the job computes: a statistic renamed in the job alone fails here."""
    import importlib

    from bertprep.report import stats as report_stats

    names = set(importlib.import_module("bertprep.pipelines.%s" % job).SUMMED_STATS)
    assert drawn <= names
    assert drawn <= set(report_stats.DRAWN)


def test_mask_probs_tables_are_read_when_stats_lack_them(tmp_path):
    with open(tmp_path / "confusion_pairs.tsv", "w", encoding="utf-8") as handle:
        handle.write("correct\twrong\tcount\n")
        for index in range(30):
            handle.write("%s\t%s\t%d\n" % (chr(0x4E00 + index), chr(0x4F00 + index), (index * 7) % 31))
    with open(tmp_path / "mask_probability.tsv", "w", encoding="utf-8") as handle:
        handle.write("char\tfaspell_probability\tsmoothed_probability\tcorrect_count\n")
        for index in range(40):
            handle.write("%s\t%s\t%s\t5\n" % (chr(0x5000 + index), index / 40, 1.0 if index == 3 else 0.01))
    built, drawn = report.build_report(str(tmp_path), {"kind": "mask_probs", "counts": {}, "stats": {}}, {})
    assert plot_ids(built) == ["confusion_pairs", "mask_probabilities_faspell_probability",
                               "mask_probabilities_smoothed_probability"]
    counts = [(index * 7) % 31 for index in range(30)]
    assert [pair[2] for pair in built["summary"]["top_confusion_pairs"]] == sorted(counts, reverse=True)[:20]
    assert built["summary"]["top_confusion_pairs"][0] == [chr(0x4E00 + 22), chr(0x4F00 + 22), 30.0]
    faspell = built["summary"]["mask_probability"]["faspell_probability"]
    assert faspell["characters"] == 40 and faspell["mean"] == pytest.approx(0.4875, abs=1e-3)
    assert faspell["top"][0] == [chr(0x5000 + 39), 0.975]
    assert built["summary"]["mask_probability"]["smoothed_probability"]["top"][0] == [chr(0x5003), 1.0]
    for plot in drawn:
        decode_png(plot.png)


def test_labels_no_font_can_draw_are_spelled_as_code_points():
    covered = plots._available_codepoints()
    assert plots.drawable("abc → x") == "abc → x"
    missing = next(chr(c) for c in range(0xE000, 0xF8FF) if c not in covered)  # private use area
    assert plots.drawable("a%s" % missing) == "aU+%04X" % ord(missing)


def test_html_is_self_contained_and_escaped(tmp_path):
    paths = report.write_report(str(tmp_path), full_info(), {"elapsed_seconds": 4.0, "finished_at": 1e9})
    page = open(paths["html"], encoding="utf-8").read()
    built = json.load(open(paths["json"], encoding="utf-8"))
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == len(built["plots"]) == 13
    for data in images:
        decode_png(base64.b64decode(data))
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "<script" not in page
    assert "&lt;b&gt;not bold&lt;/b&gt;" in page and "<b>not bold</b>" not in page
    assert "Top confusion pairs" in page and "<td>的</td>" in page
    assert built["timing"] == {"elapsed_seconds": 4.0, "finished_at": 1e9}


def test_a_failing_plot_becomes_a_note_not_a_failed_run(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("drawing went wrong")

    monkeypatch.setattr(plots, "histogram", broken)
    paths = report.write_report(str(tmp_path), full_info(), {})
    built = json.load(open(paths["json"]))
    failed = [plot for plot in built["plots"] if "error" in plot]
    assert {plot["id"] for plot in failed} == {"sequence_length", "tokens_per_instance",
                                               "mask_probabilities_mask_probability_histogram",
                                               "predictions_per_instance"}
    assert any("drawing went wrong" in note for note in built["notes"])
    assert "drawing went wrong" in open(paths["html"], encoding="utf-8").read()


def run_toy(tmp_path, name="out"):
    source = tmp_path / "in.txt"
    source.write_text("one\n!two\nthree four\n", encoding="utf-8")
    options = toy_job.ToyOptions(input=str(source), output=str(tmp_path / name), num_shards=2)
    output_lib.OutputDirectory(options.output).prepare()
    beam_job.run_job(toy_job.build_pipeline, options, summary=False)
    return options.output


def test_every_run_writes_its_report_before_the_completion_marker(tmp_path, monkeypatch):
    seen = []
    real_mark = output_lib.OutputDirectory.mark_complete

    def mark_complete(self, summary):
        seen.append(sorted(name for name in os.listdir(self.path) if name.startswith("report.")))
        return real_mark(self, summary)

    monkeypatch.setattr(output_lib.OutputDirectory, "mark_complete", mark_complete)
    out = run_toy(tmp_path)
    assert seen == [["report.html", "report.json"]]
    built = json.load(open(os.path.join(out, "report.json")))
    info = json.load(open(os.path.join(out, "info.json")))
    assert built["counts"] == info["counts"] == {"read": 3, "written": 2, "dead_lettered": 1, "records_out": 2}
    assert built["summary"]["accounting"]["balanced"] is True
    assert built["timing"]["elapsed_seconds"] > 0
    assert built["timing"]["samples"][0] == [0.0, 0]
    assert "throughput" in plot_ids(built)


def test_report_command_regenerates_and_keeps_the_run_timing(tmp_path, capsys):
    out = run_toy(tmp_path)
    before = json.load(open(os.path.join(out, "report.json")))
    os.remove(os.path.join(out, "report.html"))
    assert cli.main(["report", out]) == 0
    printed = capsys.readouterr().out
    assert os.path.join(out, "report.html") in printed
    after = json.load(open(os.path.join(out, "report.json")))
    assert after["timing"] == before["timing"]
    assert after["plots"] == before["plots"]
    assert os.path.getsize(os.path.join(out, "report.html")) > 10_000
    assert cli.main(["report", str(tmp_path / "nowhere")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "nowhere" in error


CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)


@pytest.mark.skipif(CHROMIUM is None, reason="needs headless Chromium (Debian package `chromium`)")
def test_report_opens_in_headless_chromium_and_shows_its_plots(tmp_path):
    paths = report.write_report(str(tmp_path), full_info(), {"elapsed_seconds": 4.0, "finished_at": 1e9})
    shot = tmp_path / "shot.png"
    result = subprocess.run(["bash", os.path.join(ROOT, "scripts", "screenshot_report.sh"), paths["html"], str(shot),
                             "1200x1600"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    image = matplotlib.image.imread(str(shot))
    assert image.shape[:2] == (1600, 1200)
    pixels = (image[:, :, :3] * 255).round()
    bar = (abs(pixels[:, :, 0] - 76) <= 3) & (abs(pixels[:, :, 1] - 114) <= 3) & (abs(pixels[:, :, 2] - 176) <= 3)
    assert bar.sum() > 5000  # the bars of the plots were drawn, not just text or broken images


def test_histograms_with_many_values_are_binned_without_losing_counts():
    values = {float(n): float(n % 7) for n in range(300, 1000)}
    binned = plots._rebinned(values)
    assert len(binned) == 60 and sum(binned.values()) == sum(values.values())
    assert min(binned) == 300.0 and max(binned) < 999.0
    few = {1.0: 2.0, 5.0: 3.0}
    assert plots._rebinned(few) == few
