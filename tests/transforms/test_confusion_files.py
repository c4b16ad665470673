"""Existing confusion sets as inputs: every layout, bad lines as dead letters, named sources."""
import pytest

from bertprep.transforms.csc import confusion_files
from bertprep.transforms.csc.confusion_files import ConfusionDeadLetter, ConfusionEntry, ExternalSets


def read(tmp_path, name, text, fmt=None, raw=None):
    path = tmp_path / name
    path.write_bytes(raw if raw is not None else text.encode("utf-8"))
    with open(path, "rb") as handle:
        items = list(confusion_files.iter_entries(handle, str(path), fmt))
    entries = {item.char: "".join(item.candidates) for item in items if isinstance(item, ConfusionEntry)}
    dead = [(item.line, item.reason) for item in items if isinstance(item, ConfusionDeadLetter)]
    assert all(item.source == str(path) for item in items if isinstance(item, ConfusionDeadLetter))
    assert all(item.source == "external:" + name for item in items if isinstance(item, ConfusionEntry))
    return entries, dead


def test_colon_layout_of_wang_2018(tmp_path):
    entries, dead = read(tmp_path, "confusion.txt", "在:庄奋土才再在载\n\n# a comment\n子:主兹 实,纸\n"
                                                    "的得\n是:是\n他们:门\n")
    assert entries == {"在": "庄奋土才再载", "子": "主兹实纸"}  # the key itself and repeats dropped
    assert dead == [(5, "bad confusion-set line: no colon separator after the key (expected char:candidates)"),
                    (6, "bad confusion-set line: no candidates besides the key itself"),
                    (7, "bad confusion-set line: the key '他们' is 2 characters, expected one")]


def test_tab_layout_with_a_header_and_several_fields(tmp_path):
    # SIGHAN 2013's similar-pronunciation set and pycorrector's same_pinyin.txt: a run per field.
    text = "中文字\t同音同調\t同音異調\t近音同調\n一\t壹\t漪艺\t\n乙\t椅以\t\t蚁\n丁\n"
    entries, dead = read(tmp_path, "same_pinyin.txt", text)
    assert entries == {"一": "壹漪艺", "乙": "椅以蚁"}
    assert dead == [(4, "bad confusion-set line: no tab separator after the key (expected char<TAB>candidates)")]


def test_comma_layout_as_one_run_or_one_character_an_item(tmp_path):
    # SIGHAN 2013's similar-shape set (one run) and pycorrector's same_stroke.txt (a list).
    text = "乂,义叉又乃\n延,诞,蜒\n章,障,彰,獐子\n寺，持，等\n"
    entries, dead = read(tmp_path, "same_stroke.txt", text)
    assert entries == {"乂": "义叉又乃", "延": "诞蜒", "寺": "持等"}
    assert dead == [(3, "bad confusion-set line: the item '獐子' of a comma-separated list is 2 characters, "
                        "expected one")]


def test_space_layout_and_a_forced_format(tmp_path):
    entries, dead = read(tmp_path, "spaces.txt", "的 地 得\n在 再载\n")
    assert entries == {"的": "地得", "在": "再载"}
    entries, dead = read(tmp_path, "forced.txt", "的:地得\n", fmt="tab")
    assert entries == {} and dead == [(1, "bad confusion-set line: no tab separator after the key "
                                          "(expected char<TAB>candidates)")]


def test_undecodable_bytes_and_non_letters_are_dead_letters(tmp_path):
    raw = "在:再\n".encode("utf-8") + b"\xff\xfe:\x80\n" + "是:事!\n的:地\n".encode("utf-8")
    entries, dead = read(tmp_path, "bytes.txt", None, raw=raw)
    assert entries == {"在": "再", "的": "地"}
    assert [line for line, _ in dead] == [2, 3]
    # The shared line decoder's reason (bertprep.io.formats.lines), under the confusion file's own kind.
    assert dead[0][1] == "bad confusion-set line: undecodable: invalid UTF-8 at byte 0"
    assert dead[1][1] == "bad confusion-set line: candidate U+0021 is not a letter or digit"


def test_a_layout_that_cannot_be_detected_names_the_file_and_line(tmp_path):
    path = tmp_path / "odd.txt"
    path.write_text("# header\n在|再载\n", encoding="utf-8")
    with open(path, "rb") as handle, pytest.raises(ValueError, match=r"odd.txt line 2: cannot tell the "
                                                                   r"confusion-file layout"):
        list(confusion_files.iter_entries(handle, str(path)))
    path.write_text("在|再\n\n# only a comment\n", encoding="utf-8")  # line 1 reads as a header: no data left
    with open(path, "rb") as handle, pytest.raises(ValueError, match="odd.txt holds no confusion-set lines"):
        list(confusion_files.iter_entries(handle, str(path)))


def test_source_names_are_file_names_and_must_differ():
    assert confusion_files.check_source_names(["/a/confusion_ocr_asr.txt", "gs://b/same_pinyin.txt.gz"]) == [
        "external:confusion_ocr_asr.txt", "external:same_pinyin.txt"]
    with pytest.raises(ValueError, match="two confusion files are named 'same.txt'"):
        confusion_files.check_source_names(["/a/same.txt", "/b/same.txt"])
    with pytest.raises(ValueError, match="holds '\\+'"):
        confusion_files.check_source_names(["/a/pinyin+stroke.txt"])


def test_external_sets_unite_repeated_lines_and_count_sizes():
    sets = ExternalSets(["external:a", "external:b"])
    sets.add("external:a", "在", "再载")
    sets.add("external:a", "在", "载灾在")
    sets.add("external:b", "在", "才再")
    assert sets.candidates("external:a", "在") == ["再", "载", "灾"]
    assert sets.any_candidates("在") == ["再", "载", "灾", "才"]
    assert "灾" in sets.members("external:a", "在") and not sets.members("external:b", "是")
    assert sets.sizes() == {"external:a": {"characters": 1, "candidates": 3, "mean_candidates": 3.0},
                            "external:b": {"characters": 1, "candidates": 2, "mean_candidates": 2.0}}
    rows = [("external:a", "是", ("事", "市"))]
    assert ExternalSets.from_rows(["external:a"], rows).candidates("external:a", "是") == ["事", "市"]
    entries = [ConfusionEntry("external:c", 1, "是", ("事",)), ConfusionEntry("external:c", 2, "是", ("市", "事"))]
    assert ExternalSets(["external:c"], entries).candidates("external:c", "是") == ["事", "市"]
