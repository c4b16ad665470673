"""The mask-probs report speaks the data's language: confusion pairs drawn with the characters when a
CJK font is installed (one line in the report when none is), and the confusion sets shown as candidates
by source, set sizes and held-out coverage instead of the candidate model's weights."""
import json
import re

import pytest
from matplotlib import font_manager

from bertprep.report import plots, report

TEST_FAMILY = "Bertprep Test Han"
FIND_CJK_FONT = plots.cjk_font  # cached per process; tests that change the fonts clear it


def write_test_cjk_font(path, characters):
    """A TrueType font named TEST_FAMILY whose glyphs for `characters` are filled squares."""
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    characters = sorted(set(characters))
    names = [".notdef"] + ["uni%04X" % ord(char) for char in characters]
    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder(names)
    builder.setupCharacterMap({ord(char): "uni%04X" % ord(char) for char in characters})
    glyphs = {}
    for name in names:
        pen = TTGlyphPen(None)
        pen.moveTo((100, -50))
        pen.lineTo((100, 750))
        pen.lineTo((900, 750))
        pen.lineTo((900, -50))
        pen.closePath()
        glyphs[name] = pen.glyph()
    builder.setupGlyf(glyphs)
    builder.setupHorizontalMetrics({name: (1000, 100) for name in names})
    builder.setupHorizontalHeader(ascent=880, descent=-120)
    builder.setupNameTable({"familyName": TEST_FAMILY, "styleName": "Regular"})
    builder.setupOS2(sTypoAscender=880, sTypoDescender=-120, usWinAscent=880, usWinDescent=120)
    builder.setupPost()
    builder.save(str(path))


@pytest.fixture
def fresh_font_lookup():
    FIND_CJK_FONT.cache_clear()
    yield
    FIND_CJK_FONT.cache_clear()


@pytest.fixture
def cjk_font_installed(tmp_path, monkeypatch, fresh_font_lookup):
    """A CJK font the report finds through matplotlib's font manager (this machine may have none)."""
    path = tmp_path / "bertprep-test-han.ttf"
    write_test_cjk_font(path, plots.PROBE + "地的在再做作")
    font_manager.fontManager.addfont(str(path))
    monkeypatch.setattr(plots, "CJK_FAMILIES", (TEST_FAMILY,))
    yield TEST_FAMILY
    font_manager.fontManager.ttflist[:] = [entry for entry in font_manager.fontManager.ttflist
                                           if entry.fname != str(path)]


@pytest.fixture
def no_cjk_font(monkeypatch, fresh_font_lookup):
    monkeypatch.setattr(plots, "cjk_font", lambda: None)


def mask_probs_info(**stats):
    return {"kind": "mask_probs", "tool_version": "test", "config": {"top_k": 3},
            "accounting": ["read", "written", "dead_lettered"],
            "counts": {"read": 10, "written": 10, "dead_lettered": 0},
            "stats": dict({"top_confusion_pairs": [["地", "的", 7], ["在", "再", 12], ["做", "作", 3]],
                           "confusion_mixture": {"same_syllable": 0.6, "glyph": 0.1, "ranker.glyph_similarity": 1.9}},
                          **stats)}


def plot_by_id(drawn, plot_id):
    return next(plot for plot in drawn if plot.id == plot_id)


def test_with_a_cjk_font_the_pairs_are_drawn_as_characters(cjk_font_installed, tmp_path):
    assert plots.cjk_font() == cjk_font_installed
    built, drawn = report.build_report(str(tmp_path), mask_probs_info())
    labels = plots.png_labels(plot_by_id(drawn, "confusion_pairs").png)
    assert labels[:4] == ["times", "在 → 再", "地 → 的", "做 → 作"]
    assert "font_note" not in built
    page = report.write_report(str(tmp_path), mask_probs_info())["html"]
    text = open(page, encoding="utf-8").read()
    assert "<td>地</td><td>的</td>" in text and plots.NO_CJK_FONT_NOTE.split(",")[0] not in text


def test_without_a_cjk_font_the_report_says_so_in_one_line(no_cjk_font, tmp_path):
    built, drawn = report.build_report(str(tmp_path), mask_probs_info())
    labels = plots.png_labels(plot_by_id(drawn, "confusion_pairs").png)
    assert "U+5730 → U+7684" in labels  # 地 → 的, never empty boxes
    assert built["font_note"] == plots.NO_CJK_FONT_NOTE
    text = open(report.write_report(str(tmp_path), mask_probs_info())["html"], encoding="utf-8").read()
    assert text.count(plots.NO_CJK_FONT_NOTE.replace("`", "&#x60;").split(" (")[0]) == 1
    assert "<td>地</td><td>的</td>" in text  # the table still shows the characters


def test_a_report_without_chinese_labels_has_no_font_line(no_cjk_font, tmp_path):
    info = mask_probs_info(top_confusion_pairs=[["a", "b", 2]])
    built, _ = report.build_report(str(tmp_path), info)
    assert "font_note" not in built


CONFUSION_SETS = """char\tcandidate\tscore\tsource\trank\tphonetic_score\tglyph_score\tobserved_count\tsame_pinyin
在\t再\t0.5\tphonetic+observed\t1\t1.0\t0.0\t12\ttrue
在\t载\t0.2\tphonetic\t2\t1.0\t0.0\t0\ttrue
在\t仕\t0.1\tglyph\t3\t0.0\t0.6\t0\tfalse
地\t的\t0.6\tphonetic+observed\t1\t0.9\t0.0\t7\tfalse
地\t他\t0.3\tglyph\t2\t0.0\t0.7\t0\tfalse
晴\t清\t0.5\tphonetic+glyph\t1\t0.8\t0.8\t0\tfalse
"""


def test_confusion_sets_are_shown_by_source_size_and_held_out_coverage(no_cjk_font, tmp_path):
    (tmp_path / "confusion_sets.tsv").write_text(CONFUSION_SETS, encoding="utf-8")
    coverage = {"1": 0.55, "3": 0.7, "5": 0.8, "10": 0.86, "15": 0.88}
    built, drawn = report.build_report(str(tmp_path), mask_probs_info(confusion_coverage_by_set_size=coverage))
    ids = [plot["id"] for plot in built["plots"]]
    assert ids.index("confusion_pairs") < ids.index("confusion_candidates_by_source") < ids.index(
        "confusion_set_sizes") < ids.index("confusion_coverage")
    assert "confusion_mixture" not in ids  # the model's weights are figures, not a plot
    assert built["summary"]["confusion_mixture"]["same_syllable"] == 0.6
    assert built["summary"]["confusion_sets"] == {
        "characters": 3, "candidates": 6, "mean_set_size": 2.0,
        "candidates_by_source": {"phonetic": 4, "glyph": 3, "observed": 2}}
    by_source = plots.png_labels(plot_by_id(drawn, "confusion_candidates_by_source").png)
    # Bars in order of size, each split into "this source only" and "also another source".
    assert [label for label in by_source if label in ("phonetic", "glyph", "observed")] == [
        "phonetic", "glyph", "observed"]
    assert {"this source only", "also another source", "4", "3", "2"} <= set(by_source)
    sizes = plots.png_labels(plot_by_id(drawn, "confusion_set_sizes").png)
    assert "Confusion-set size per character" in sizes and "mean 2.0" in sizes
    curve = plots.png_labels(plot_by_id(drawn, "confusion_coverage").png)
    assert "Held-out errors covered by set size" in curve and "--top-k 3" in curve
    assert built["summary"]["confusion_coverage_by_set_size"]["15"] == 0.88
    assert not built["notes"]


def test_the_png_keeps_its_labels_and_stays_a_png():
    png = plots.bars([("读", 2), ("写", 1)], "Two bars")
    assert png.startswith(b"\x89PNG") and plots.png_labels(png)[-1] == "Two bars"
    assert re.search(rb"iTXt|tEXt", png)
    json.dumps(plots.png_labels(png))
