"""Property tests: every reader survives hostile bytes, and every input line is accounted for.

Inputs mix random bytes with the usual troublemakers: CRLF and bare CR, a UTF-8 BOM, NUL bytes, lone
surrogates encoded in UTF-8 (ED A0 80), JSON escapes of lone surrogates, quotes, tabs, blank lines
(empty documents), and a 10 MB single line. A reader may only yield Records and DeadLetters (or raise
BertprepError for a file that is not of its format at all), and every dead letter must be writable
as UTF-8 JSON. Through Beam, the toy job's `read = written + dead_lettered` holds on fuzzed files.
"""
import gzip
import io
import json
import os
import tempfile

import pyarrow as pa
import pyarrow.parquet as parquet
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bertprep.errors import BertprepError
from bertprep.io import output as output_lib
from bertprep.io import formats
from bertprep.runtime import beam_job

import toy_job

NASTY_PIECES = [b"\x00", b"\r", b"\r\n", b"\n", b"\n\n", b"\xef\xbb\xbf", b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xff",
                b"\xc3", b'"', b"\t", b",", b"{", b"}", b'{"text": "ok"}', b'{"text": "\\ud800"}', b'"\\udc00"',
                b"[1, 2]", b"null", b" ", b"\xe4\xb8\xad\xe6\x96\x87", b"\x1c", b"\xc2\x85", b"\xe2\x80\xa8"]
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                           HealthCheck.too_slow])

hostile_bytes = st.one_of(
    st.binary(max_size=400),
    st.lists(st.one_of(st.sampled_from(NASTY_PIECES), st.binary(max_size=12),
                       st.text(max_size=12).map(lambda text: text.encode("utf-8", "surrogatepass"))),
             max_size=60).map(b"".join),
)


def write_temp(data: bytes, suffix: str = ".txt") -> str:
    handle, path = tempfile.mkstemp(suffix=suffix, prefix="bertprep-fuzz-")
    with os.fdopen(handle, "wb") as stream:
        stream.write(data)
    return path


def physical_lines(data: bytes):
    """The file's lines as the readers number them: split on LF, no phantom line after a final LF."""
    if not data:
        return []
    pieces = data.split(b"\n")
    return pieces[:-1] if data.endswith(b"\n") else pieces


def decoded(number: int, raw: bytes):
    """The reader's view of one line: its text, or None when it is not UTF-8."""
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text[1:] if number == 1 and text.startswith(formats.BOM) else text


def check_items(items, path, line_count):
    """Only Records and DeadLetters, from this file, with line numbers in range, dead letters writable."""
    for item in items:
        assert isinstance(item, (formats.Record, formats.DeadLetter)), item
        assert item.source == path
        assert 1 <= item.line <= max(line_count, 1)
        if isinstance(item, formats.DeadLetter):
            json.dumps(item.to_json(), ensure_ascii=False, default=str).encode("utf-8")
            assert item.reason and item.reason_kind


def read_all(reader, path, *args):
    try:
        return list(reader(path, *args))
    finally:
        os.remove(path)


def blank_lines(lines):
    """Physical lines that decode to whitespace only (readers skip them without a dead letter)."""
    return sum(1 for n, raw in enumerate(lines, 1) if decoded(n, raw) is not None and not decoded(n, raw).strip())


@SETTINGS
@given(hostile_bytes)
def test_text_lines_one_item_per_line(data):
    path = write_temp(data)
    lines = physical_lines(data)
    items = read_all(formats.iter_text_lines, path)
    check_items(items, path, len(lines))
    assert [item.line for item in items] == list(range(1, len(lines) + 1))
    for number, (item, raw) in enumerate(zip(items, lines), start=1):
        text = decoded(number, raw)
        if text is None:
            assert isinstance(item, formats.DeadLetter) and item.reason_kind == "undecodable"
        else:
            assert isinstance(item, formats.Record) and item.value == text


@SETTINGS
@given(hostile_bytes)
def test_text_format_skips_only_blank_lines(data):
    path = write_temp(data)
    lines = physical_lines(data)
    items = read_all(lambda p: formats.iter_file(p, "text"), path)
    check_items(items, path, len(lines))
    blank = blank_lines(lines)
    assert len(items) + blank == len(lines)


@SETTINGS
@given(hostile_bytes)
def test_documents_account_for_every_line(data):
    path = write_temp(data)
    lines = physical_lines(data)
    items = read_all(formats.iter_documents, path)
    check_items(items, path, len(lines))
    sentences = sum(len(item.value) for item in items if isinstance(item, formats.Record))
    dead = sum(1 for item in items if isinstance(item, formats.DeadLetter))
    blank = blank_lines(lines)
    assert sentences + dead + blank == len(lines)
    assert all(item.value and all(sentence.strip() for sentence in item.value)
               for item in items if isinstance(item, formats.Record))  # no empty documents


@SETTINGS
@given(hostile_bytes, st.sampled_from([None, "text"]))
def test_jsonl_accounts_for_every_line(data, field):
    path = write_temp(data, ".jsonl")
    lines = physical_lines(data)
    items = read_all(formats.iter_jsonl, path, field)
    check_items(items, path, len(lines))
    blank = blank_lines(lines)
    assert len(items) + blank == len(lines)
    assert len({item.line for item in items}) == len(items)


@SETTINGS
@given(hostile_bytes, st.booleans())
def test_tsv_accounts_for_every_line(data, header):
    path = write_temp(data, ".tsv")
    lines = physical_lines(data)
    items = read_all(formats.iter_table, path, {"a": 0, "b": 1}, "\t", header)
    check_items(items, path, len(lines))
    texts = [decoded(n, raw) for n, raw in enumerate(lines, 1)]
    header_lines = 1 if header and any(text is not None for text in texts) else 0
    blank = sum(1 for text in texts if text is not None and all(not cell.strip() for cell in text.split("\t")))
    with_cr = sum(1 for text in texts if text is not None and "\r" in text)
    # With no quoting each line is one row or one dead letter (a bare CR makes a bad row); the header is one row.
    assert len(items) <= len(lines)  # (a bad header line is itself a dead letter)
    assert len({(type(item), item.line) for item in items}) == len(items)
    rows = [item for item in items if isinstance(item, formats.Record)]
    assert len(rows) <= len(lines) - header_lines
    assert all(set(row.value) == {"a", "b"} for row in rows)
    assert len(items) + blank + header_lines + with_cr >= len(lines)


@SETTINGS
@given(hostile_bytes, st.booleans())
def test_csv_never_crashes_and_keeps_lines_in_order(data, header):
    path = write_temp(data, ".csv")
    lines = physical_lines(data)
    items = read_all(formats.iter_table, path, {"a": 0}, ",", header)
    check_items(items, path, len(lines))
    # Quoted cells may span lines, so a record stands for one or more lines: never more items than lines.
    assert len(items) <= len(lines)


def test_csv_quoted_newline_is_one_record():
    path = write_temp(b'a,b\n"one\ntwo",x\nthree,y\n', ".csv")
    items = read_all(formats.iter_table, path, {"a": "a", "b": "b"}, ",", True)
    assert [(item.line, item.value) for item in items] == [(3, {"a": "one\ntwo", "b": "x"}),
                                                           (4, {"a": "three", "b": "y"})]


HUGE = 10 * 1024 * 1024


@pytest.mark.parametrize("fmt", ["text", "documents", "jsonl", "tsv", "csv"])
def test_a_10_mb_single_line(fmt):
    data = b"\xef\xbb\xbf" + (b"x" * HUGE) + b"\r\nshort\r\n"
    path = write_temp(data, "." + fmt)
    columns = {"a": 0} if fmt in ("tsv", "csv") else None
    items = read_all(lambda p: formats.iter_file(p, fmt, columns=columns, header=False), path)
    check_items(items, path, 2)
    if fmt == "jsonl":  # not JSON: both lines dead-lettered, the huge copy cut short
        assert [item.line for item in items] == [1, 2]
        record = items[0].to_json()["record"]
        assert len(record) < formats.MAX_DEAD_LETTER_CHARS + 100 and "cut from %d characters" % HUGE in record
    elif fmt == "documents":
        assert len(items) == 1 and [len(s) for s in items[0].value] == [HUGE, 5]
    else:
        values = [item.value if fmt == "text" else item.value["a"] for item in items]
        assert [len(value) for value in values] == [HUGE, 5]


@SETTINGS
@given(st.binary(max_size=300))
def test_compressed_garbage_fails_with_one_line_naming_the_file(data):
    path = write_temp(data, ".txt.gz")
    try:
        items = read_all(formats.iter_text_lines, path)
    except BertprepError as error:
        assert path in str(error) and "\n" not in str(error)
        return
    check_items(items, path, 10 ** 6)


def test_truncated_gzip_is_not_silently_short():
    data = gzip.compress("".join("line %d\n" % n for n in range(5000)).encode())
    path = write_temp(data[: len(data) // 2], ".txt.gz")
    with pytest.raises(BertprepError, match="truncated or corrupt compressed file"):
        read_all(formats.iter_text_lines, path)


@SETTINGS
@given(st.binary(max_size=300))
def test_parquet_reader_refuses_non_parquet_bytes_with_one_line(data):
    path = write_temp(data, ".parquet")
    with pytest.raises(BertprepError) as raised:
        read_all(formats.iter_parquet, path)
    assert path in str(raised.value) and "\n" not in str(raised.value)


parquet_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(parquet_text, st.one_of(st.none(), st.integers(-5, 5))), max_size=30))
def test_parquet_rows_all_arrive_with_nul_bom_and_crlf_inside(rows):
    rows = [("\x00\ufeff" + text + "\r\n", number) for text, number in rows]
    buffer = io.BytesIO()
    parquet.write_table(pa.table({"text": [t for t, _ in rows], "n": pa.array([n for _, n in rows], pa.int64())}),
                        buffer)
    path = write_temp(buffer.getvalue(), ".parquet")
    items = read_all(formats.iter_parquet, path, ["text", "n"])
    check_items(items, path, len(rows))
    assert [(item.value["text"], item.value["n"]) for item in items] == rows
    assert [item.line for item in items] == list(range(1, len(rows) + 1))


# ------------------------------------------------------------------ through Beam: the toy job

def _toy_run(data: bytes, directory: str) -> dict:
    source = os.path.join(directory, "in.txt")
    with open(source, "wb") as handle:
        handle.write(data)
    options = toy_job.ToyOptions(input=source, output=os.path.join(directory, "out"), num_shards=2, overwrite=True,
                                 max_dead_letter_rate=1.0)
    output_lib.OutputDirectory(options.output, overwrite=True).prepare()
    try:
        beam_job.run_job(toy_job.build_pipeline, options, progress=False, summary=False)
    except BertprepError as error:  # the publish gate: a run that wrote nothing publishes nothing
        assert str(error).startswith("no records written") and "\n" not in str(error)
        assert not os.path.exists(os.path.join(options.output, "info.json"))
        return None
    with open(os.path.join(options.output, "info.json")) as handle:
        return json.load(handle)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          phases=[Phase.explicit, Phase.generate])
@given(hostile_bytes)
def test_toy_job_accounting_holds_on_fuzzed_input(tmp_path, data):
    info = _toy_run(data, str(tmp_path))
    lines = physical_lines(data)
    texts = [decoded(n, raw) for n, raw in enumerate(lines, 1)]
    if info is None:  # refused by the publish gate: then no line could become a record
        assert not any(text is not None and text.strip() and not text.startswith("!") for text in texts)
        return
    counts = info["counts"]
    assert counts["read"] == counts["written"] + counts["dead_lettered"]
    assert counts["read"] == sum(1 for text in texts if text is None or text.strip())
    assert counts["written"] == sum(1 for text in texts if text is not None and text.strip()
                                    and not text.startswith("!"))
    letters = os.path.join(str(tmp_path), "out", output_lib.DEAD_LETTER_DIR, "dead_letters-00000-of-00001.jsonl")
    with open(letters, encoding="utf-8") as handle:  # written even when empty
        assert [json.loads(line)["line"] for line in handle] == sorted(
            n for n, text in enumerate(texts, 1) if text is None or text.startswith("!"))


# ------------------------------------------------------------------ every job's CLI on a fuzzed input

def _tiny_vocab(directory: str) -> str:
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list("abcdefghijklmnopqrstuvwxyz0123456789.,!?")
    tokens += ["##" + c for c in "abcdefghijklmnopqrstuvwxyz"] + list("我今天去学校了中文的地在再他她是好不")
    path = os.path.join(directory, "vocab.txt")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(tokens) + "\n")
    return path


GOOD_SENTENCES = ["我今天去学校了", "the cat sat on the mat.", "他是好学生", "中文的地在再", "a b c d e f g"]

# job: (file suffix, good content before/after the fuzz, extra arguments, needs a tokenizer)
JOB_INPUTS = {
    "mask-probs": (".tsv", "".join("%s\t%s\n" % (s, s) for s in GOOD_SENTENCES) + "我今天去学校\t我今天去学校了\n",
                   ["--format", "tsv"], False),
    "pretraining": (".txt", "\n".join(GOOD_SENTENCES) + "\n\n" + "\n".join(reversed(GOOD_SENTENCES)) + "\n\n",
                    ["--max-seq-length", "32", "--max-predictions-per-seq", "5", "--dupe-factor", "1"], True),
    "classifier": (".tsv", "".join("%d\t%s\n" % (n % 2, s) for n, s in enumerate(GOOD_SENTENCES)),
                   ["--format", "tsv", "--no-header", "--label", "0", "--text-a", "1", "--labels", "0,1",
                    "--max-seq-length", "32"], True),
    "tagging": (".bio", "".join("%s O\n" % c for c in "我今天去学校") + "\n" + "他 B-PER\n是 O\n\n",
                ["--format", "conll", "--max-seq-length", "32"], True),
    "squad": (".json", "", ["--max-seq-length", "64", "--doc-stride", "32", "--max-query-length", "16"], True),
}

SQUAD_GOOD = {"version": "v2.0", "data": [{"title": "t", "paragraphs": [{
    "context": "我今天去学校了。他是好学生。",
    "qas": [{"id": "q1", "question": "他是什么？", "is_impossible": False,
             "answers": [{"text": "好学生", "answer_start": 10}]}]}]}]}


def _job_input(job: str, fuzz: bytes) -> bytes:
    suffix, good, _, _ = JOB_INPUTS[job]
    if job == "squad":  # fuzz the strings of a SQuAD file: the JSON stays parseable, its text is hostile
        text = fuzz.decode("utf-8", "replace")
        data = json.loads(json.dumps(SQUAD_GOOD))
        paragraph = data["data"][0]["paragraphs"][0]
        paragraph["qas"].append({"id": "fuzz", "question": text, "answers": [{"text": text[:5], "answer_start": 3}]})
        data["data"].append({"title": text, "paragraphs": [{"context": text, "qas": [
            {"id": "fuzz2", "question": "x", "answers": [{"text": text[2:9], "answer_start": 2}]}]}]})
        return json.dumps(data, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return good.encode("utf-8") + fuzz + b"\n" + good.encode("utf-8")


def _job_available(job: str) -> bool:
    import importlib

    module = "bertprep.pipelines." + job.replace("-", "_")
    try:
        importlib.import_module(module)
        if JOB_INPUTS[job][3]:
            importlib.import_module("bertprep.transforms.tokenization.tokenizer")
    except ImportError:
        return False
    return True


@pytest.mark.parametrize("job", sorted(JOB_INPUTS))
def test_every_job_survives_a_fuzzed_input_and_accounts_for_it(job, tmp_path_factory, capsys):
    if not _job_available(job):
        pytest.skip("the %s job (or the tokenizer it needs) is not in this tree yet" % job)
    from bertprep import cli

    suffix, _, extra, needs_vocab = JOB_INPUTS[job]
    directory = str(tmp_path_factory.mktemp("fuzzjob"))
    vocab = ["--vocab", _tiny_vocab(directory)] if needs_vocab else []

    # Few examples and no shrinking: each example is a whole CLI run (seconds), and a failure should
    # report the input that failed, not spend minutes making it smaller.
    @settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None,
              phases=[Phase.generate])
    @given(hostile_bytes)
    def run_once(fuzz):
        source = os.path.join(directory, "input" + suffix)
        with open(source, "wb") as handle:
            handle.write(_job_input(job, fuzz))
        out = os.path.join(directory, "out")
        # A fuzzed input may dead-letter most records; the gate is tested elsewhere, accounting here.
        status = cli.main([job, "--input", source, "--output", out, "--overwrite", "--max-dead-letter-rate", "1"]
                          + vocab + extra)
        captured = capsys.readouterr()
        if status == 2:  # refused as a whole: one line naming what is wrong, never a traceback
            assert captured.err.startswith("bertprep: error: ") and captured.err.count("\n") == 1, captured.err
            refusals.append(captured.err)
            return
        assert status == 0, captured.err[-3000:]
        info = json.load(open(os.path.join(out, output_lib.INFO_FILE), encoding="utf-8"))
        accounting = info.get("accounting") or ["read", "written", "dead_lettered"]
        counts = info["counts"]
        assert counts[accounting[0]] == sum(counts.get(name, 0) for name in accounting[1:]), counts
        assert counts[accounting[0]] > 0
        built = json.load(open(os.path.join(out, "report.json"), encoding="utf-8"))
        assert built["summary"]["accounting"]["balanced"] is True
        assert os.path.exists(os.path.join(out, output_lib.COMPLETE_MARKER))
        if "schema" in info:
            assert cli.main(["inspect", out]) == 0
        capsys.readouterr()

    refusals = []
    run_once()
    # The good records around the fuzz are enough for a run: refusing every example means a broken test or job.
    assert len(refusals) < 2, refusals
