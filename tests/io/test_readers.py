import gzip
import os
import subprocess
import sys
import json

import pytest

from bertprep.errors import BertprepError
from bertprep.io import formats, fs
from gcs_emulator import gcs_bucket, storage_emulator  # noqa: F401 (fixtures: a local Cloud Storage emulator)


def _write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_text_lines_strip_bom_and_crlf_and_dead_letter_bad_utf8(tmp_path):
    path = _write(tmp_path, "a.txt", b"\xef\xbb\xbffirst\r\nbad \xff byte\nthird\n")
    items = list(formats.iter_text_lines(path))
    assert [i.value for i in items if isinstance(i, formats.Record)] == ["first", "third"]
    dead = [i for i in items if isinstance(i, formats.DeadLetter)]
    assert len(dead) == 1 and dead[0].line == 2 and "invalid UTF-8" in dead[0].reason
    assert dead[0].to_json()["source"] == path


def test_documents_are_blank_line_separated_and_keyed_by_first_line(tmp_path):
    path = _write(tmp_path, "d.txt", "一。\n二。\n\n\n三。\n".encode())
    documents = list(formats.iter_documents(path))
    assert [d.value for d in documents] == [["一。", "二。"], ["三。"]]
    assert [d.line for d in documents] == [1, 5]
    assert documents[1].key.endswith(":5")


def test_empty_file_yields_nothing(tmp_path):
    path = _write(tmp_path, "e.txt", b"")
    assert list(formats.iter_documents(path)) == []
    assert list(formats.iter_file(path, "text")) == []


def test_jsonl_field_and_bad_json(tmp_path):
    path = _write(tmp_path, "a.jsonl", b'{"text": "x"}\nnot json\n{"other": 1}\n')
    items = list(formats.iter_jsonl(path, "text"))
    assert items[0].value == "x"
    assert "bad JSON" in items[1].reason and items[1].line == 2
    assert "missing field" in items[2].reason


def test_table_columns_by_name_and_index_missing_column(tmp_path):
    path = _write(tmp_path, "t.tsv", "label\ttext_a\n1\t好\n0\n".encode())
    items = list(formats.iter_table(path, {"label": "label", "text": 1}))
    assert items[0].value == {"label": "1", "text": "好"} and items[0].line == 2
    assert isinstance(items[1], formats.DeadLetter) and "missing column" in items[1].reason
    with pytest.raises(BertprepError, match="no column 'nope'"):
        list(formats.iter_table(path, {"text": "nope"}))


def test_csv_quoted_fields_and_gzip(tmp_path):
    path = tmp_path / "t.csv.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(b'a,b\n"x, y",2\n')
    items = list(formats.iter_table(str(path), {"a": "a", "b": "b"}, delimiter=","))
    assert items[0].value == {"a": "x, y", "b": "2"}


def test_parquet_rows(tmp_path):
    pandas = pytest.importorskip("pandas")
    path = tmp_path / "t.parquet"
    pandas.DataFrame({"text": ["a", "b"], "label": [0, 1]}).to_parquet(path)
    items = list(formats.iter_parquet(str(path), ["text"]))
    assert [i.value for i in items] == [{"text": "a"}, {"text": "b"}]
    with pytest.raises(BertprepError, match="no column"):
        list(formats.iter_parquet(str(path), ["missing"]))


def test_no_matching_input_is_a_one_line_error(tmp_path):
    with pytest.raises(BertprepError, match="no input file matches"):
        fs.match(str(tmp_path / "nothing-*.txt"))


def test_guess_format():
    assert formats.guess_format("x.jsonl.gz") == "jsonl"
    assert formats.guess_format("x.tsv") == "tsv"
    assert formats.guess_format("x.txt") == "text"
    assert json.dumps(formats.DeadLetter("f", 1, "r", b"\xff").to_json())


# ---- io/fs: local and remote paths in one place --------------------------------------------------------

def _tree(tmp_path):
    for name in ["a.txt", "b.txt", ".hidden.txt", "x1.tsv", "sub/c.txt", "sub/deep/d.txt", "sub/deep/e.tsv"]:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"line\n")
    return str(tmp_path)


@pytest.mark.parametrize("pattern", ["*.txt", "**.txt", "**", "sub/*.txt", "sub/**", "?.txt", "[ab].txt", "[!a].txt",
                                     "x?.tsv", "sub/", "a.txt", "*.tsv,sub/deep/*"])
def test_local_match_follows_beam_rules(tmp_path, pattern):
    """Without Beam, a local glob names the files Beam's LocalFileSystem would (hidden files, `**`, classes)."""
    from apache_beam.io.filesystems import FileSystems

    root = _tree(tmp_path)
    full = ",".join(os.path.join(root, part) for part in pattern.split(","))
    expected = []
    for part in full.split(","):
        expected += sorted(m.path for m in FileSystems.match([part])[0].metadata_list)
    assert expected, "the pattern should match something"
    assert fs.match(full) == expected


def test_local_match_errors_name_the_pattern(tmp_path):
    root = _tree(tmp_path)
    with pytest.raises(BertprepError, match="input .*sub is a directory, not a file"):
        fs.match(os.path.join(root, "sub"))
    with pytest.raises(BertprepError, match="no input file matches .*nothing"):
        fs.match(os.path.join(root, "a.txt") + "," + os.path.join(root, "nothing*"))


def test_local_reading_and_matching_import_no_beam(tmp_path):
    """The formats and fs must stay usable from transforms/ (which may not import Beam)."""
    root = _tree(tmp_path)
    with gzip.open(os.path.join(root, "z.txt.gz"), "wb") as handle:
        handle.write("一\n二\n".encode())
    script = ("import sys\n"
              "from bertprep.io import formats, fs\n"
              "from bertprep.io.formats import csc, squad, conll\n"
              "from bertprep.transforms.csc import confusion_files\n"
              "from bertprep.transforms.finetune import squad_examples, tagging_features\n"
              "paths = fs.match(sys.argv[1] + '/*.txt*')\n"
              "values = [item.value for path in paths for item in formats.iter_file(path, 'text')]\n"
              "assert values == ['line', 'line', 'line', '一', '二'], values\n"
              "assert fs.total_size(paths) > 0 and fs.exists(paths[0])\n"
              "assert 'apache_beam' not in sys.modules, 'Beam was imported'\n")
    done = subprocess.run([sys.executable, "-c", script, root], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=os.getcwd()))
    assert done.returncode == 0, done.stderr


def test_remote_paths_go_through_the_storage_door(storage_emulator, gcs_bucket):
    files = {gcs_bucket + "/in/2.txt": b"two\n", gcs_bucket + "/in/1.txt.gz": gzip.compress(b"\xef\xbb\xbfone\r\nbad \xff\n")}
    for path, data in files.items():  # on the local Cloud Storage emulator
        with fs.open_write(path) as handle:
            handle.write(data)
    assert fs.match(gcs_bucket + "/in/*") == [gcs_bucket + "/in/1.txt.gz", gcs_bucket + "/in/2.txt"]
    with pytest.raises(BertprepError, match="no input file matches %s/out/" % gcs_bucket):
        fs.match(gcs_bucket + "/out/*")
    items = list(formats.iter_text_lines(gcs_bucket + "/in/1.txt.gz"))
    assert items[0] == formats.Record(gcs_bucket + "/in/1.txt.gz", 1, "one")
    assert items[1].reason == "undecodable: invalid UTF-8 at byte 4" and items[1].line == 2
    assert fs.total_size([gcs_bucket + "/in/2.txt"]) == 4
    with pytest.raises(BertprepError, match="cannot open %s/missing.txt" % gcs_bucket):
        fs.open_read(gcs_bucket + "/missing.txt")


def test_local_write_exists_join_size(tmp_path):
    path = fs.join(str(tmp_path), "new", "f.bin")
    assert not fs.exists(path)
    with fs.open_write(path) as handle:
        handle.write(b"12345")
    assert fs.exists(path) and fs.size(path) == 5
    with fs.open_read(path) as handle:
        assert handle.read() == b"12345"
    with pytest.raises(BertprepError, match="cannot open .*missing"):
        fs.open_read(str(tmp_path / "missing"))


# ---- one line decoder for every format -----------------------------------------------------------------

def test_every_format_dead_letters_a_bad_byte_alike(tmp_path):
    """One decoder: the same bad byte on line 2 is the same dead letter (type, line, reason) in every format."""
    from bertprep.io.formats import conll, csc
    from bertprep.transforms.csc import confusion_files

    bad = b"ab\xffc"
    files = {
        "text": (b"ok\n" + bad + b"\n", lambda p: formats.iter_file(p, "text")),
        "documents": (b"ok\n" + bad + b"\nmore\n", formats.iter_documents),
        "jsonl": (b'{"a": 1}\n' + bad + b"\n", formats.iter_jsonl),
        "tsv": (b"a\tb\n" + bad + b"\tx\n", lambda p: formats.iter_table(p, {"a": 0})),
        "conll": (b"EU B-ORG\n" + bad + b" O\n", conll.iter_conll_file),
        "csc": ("我再家\t我在家\n".encode() + bad + b"\tx\n", lambda p: csc.iter_file_pairs(p, "tsv")),
    }
    expected = "undecodable: invalid UTF-8 at byte 2"
    for name, (data, read) in files.items():
        path = _write(tmp_path, name + ".data", data)
        dead = [item for item in read(path) if isinstance(item, formats.DeadLetter)]
        assert [(type(item), item.line, item.reason) for item in dead] == [(formats.DeadLetter, 2, expected)], name
        assert dead[0].to_json()["record"].startswith("ab\\xffc"), name
    confusion = list(confusion_files.iter_entries([b"\xe5\x9c\xa8:\xe5\x86\x8d\n", bad + b"\n"], "c.txt"))
    assert [(type(item), item.line, item.reason) for item in confusion[1:]] == [
        (formats.DeadLetter, 2, "bad confusion-set line: " + expected)]


def test_csc_pairs_are_records_and_squad_reads_through_formats(tmp_path):
    from bertprep.io.formats import csc, squad

    pair = next(csc.iter_line_pairs(["错\t对\n".encode()], "p.tsv", "tsv"))
    assert isinstance(pair, formats.Record) and pair.value == ("错", "对") and (pair.wrong, pair.correct) == ("错", "对")
    assert pair.key == "p.tsv:1"
    document = b'{"data": [{"paragraphs": [{"context": "c", "qas": [{"id": "q"}]}]}]}'
    path = _write(tmp_path, "s.json", document + b"\xff")
    assert [(item.line, item.reason) for item in squad.iter_squad_file(path)] == [
        (0, "undecodable: invalid UTF-8 at byte %d" % len(document))]


def test_columns_are_picked_by_name_or_by_index_and_a_missing_one_is_a_dead_letter():
    from bertprep.io.formats.columns import pick_columns

    record = formats.Record("rows.jsonl", 3, {"sentence": "好", "score": 1})
    picked = pick_columns(record, {"text_a": "sentence", "label": 1})
    assert isinstance(picked, formats.Record) and picked.value == {"text_a": "好", "label": 1}
    assert pick_columns(formats.Record("r.jsonl", 4, ["a", "b"]), {"text_a": -1}).value == {"text_a": "b"}
    missing = pick_columns(record, {"text_a": "text"})
    assert isinstance(missing, formats.DeadLetter) and (missing.line, missing.reason) == (3, "missing column: 'text'")
    scalar = pick_columns(formats.Record("r.jsonl", 5, "text"), {"text_a": 0})
    assert scalar.reason == "bad record: expected an object or a list"
