import gzip
import json

import pytest

from bertprep.errors import BertprepError
from bertprep.io import beam_io, readers


def _write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_text_lines_strip_bom_and_crlf_and_dead_letter_bad_utf8(tmp_path):
    path = _write(tmp_path, "a.txt", b"\xef\xbb\xbffirst\r\nbad \xff byte\nthird\n")
    items = list(readers.iter_text_lines(path))
    assert [i.value for i in items if isinstance(i, readers.Record)] == ["first", "third"]
    dead = [i for i in items if isinstance(i, readers.DeadLetter)]
    assert len(dead) == 1 and dead[0].line == 2 and "invalid UTF-8" in dead[0].reason
    assert dead[0].to_json()["source"] == path


def test_documents_are_blank_line_separated_and_keyed_by_first_line(tmp_path):
    path = _write(tmp_path, "d.txt", "一。\n二。\n\n\n三。\n".encode())
    documents = list(readers.iter_documents(path))
    assert [d.value for d in documents] == [["一。", "二。"], ["三。"]]
    assert [d.line for d in documents] == [1, 5]
    assert documents[1].key.endswith(":5")


def test_empty_file_yields_nothing(tmp_path):
    path = _write(tmp_path, "e.txt", b"")
    assert list(readers.iter_documents(path)) == []
    assert list(readers.iter_file(path, "text")) == []


def test_jsonl_field_and_bad_json(tmp_path):
    path = _write(tmp_path, "a.jsonl", b'{"text": "x"}\nnot json\n{"other": 1}\n')
    items = list(readers.iter_jsonl(path, "text"))
    assert items[0].value == "x"
    assert "bad JSON" in items[1].reason and items[1].line == 2
    assert "missing field" in items[2].reason


def test_table_columns_by_name_and_index_missing_column(tmp_path):
    path = _write(tmp_path, "t.tsv", "label\ttext_a\n1\t好\n0\n".encode())
    items = list(readers.iter_table(path, {"label": "label", "text": 1}))
    assert items[0].value == {"label": "1", "text": "好"} and items[0].line == 2
    assert isinstance(items[1], readers.DeadLetter) and "missing column" in items[1].reason
    with pytest.raises(BertprepError, match="no column 'nope'"):
        list(readers.iter_table(path, {"text": "nope"}))


def test_csv_quoted_fields_and_gzip(tmp_path):
    path = tmp_path / "t.csv.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(b'a,b\n"x, y",2\n')
    items = list(readers.iter_table(str(path), {"a": "a", "b": "b"}, delimiter=","))
    assert items[0].value == {"a": "x, y", "b": "2"}


def test_parquet_rows(tmp_path):
    pandas = pytest.importorskip("pandas")
    path = tmp_path / "t.parquet"
    pandas.DataFrame({"text": ["a", "b"], "label": [0, 1]}).to_parquet(path)
    items = list(readers.iter_parquet(str(path), ["text"]))
    assert [i.value for i in items] == [{"text": "a"}, {"text": "b"}]
    with pytest.raises(BertprepError, match="no column"):
        list(readers.iter_parquet(str(path), ["missing"]))


def test_no_matching_input_is_a_one_line_error(tmp_path):
    with pytest.raises(BertprepError, match="no input file matches"):
        beam_io.match_files(str(tmp_path / "nothing-*.txt"))


def test_guess_format():
    assert readers.guess_format("x.jsonl.gz") == "jsonl"
    assert readers.guess_format("x.tsv") == "tsv"
    assert readers.guess_format("x.txt") == "text"
    assert json.dumps(readers.DeadLetter("f", 1, "r", b"\xff").to_json())
