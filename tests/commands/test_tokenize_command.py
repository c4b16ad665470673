"""`bertprep tokenize`: golden parity through the command, bad input, options."""
import json
import subprocess
import sys

import pytest

from bertprep.cli import main

GOLDEN = [
    ("tokenize_zh_lower.jsonl", "zh_vocab.txt", "--lower"),
    ("tokenize_en_uncased_lower.jsonl", "en_uncased_vocab.txt", "--lower"),
    ("tokenize_en_uncased_nolower.jsonl", "en_uncased_vocab.txt", "--no-lower"),
]


def golden_rows(shared, name):
    with open(shared / "golden" / name, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def as_input_lines(rows):
    """One line per row; a newline inside a text is whitespace to the tokenizer, so a space is the same."""
    return "".join(row["text"].replace("\r", " ").replace("\n", " ") + "\n" for row in rows)


def run_cli(capsys, *argv):
    code = main(["tokenize", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("golden,vocab,flag", GOLDEN)
def test_command_output_equals_every_golden_line(shared, tmp_path, capsys, golden, vocab, flag):
    rows = golden_rows(shared, golden)
    source = tmp_path / "in.txt"
    source.write_text(as_input_lines(rows), encoding="utf-8")
    code, out, err = run_cli(capsys, "--vocab", str(shared / "data" / "vocab" / vocab), flag, "--input", str(source))
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == len(rows)
    for row, line in zip(rows, lines):
        assert json.loads(line) == {"tokens": row["tokens"], "ids": row["ids"]}, row["text"]
    assert "\\u" not in out  # ensure_ascii=False: tokens are written as UTF-8


def test_console_script_reads_stdin(shared, zh_vocab):
    rows = golden_rows(shared, "tokenize_zh_lower.jsonl")[:300]
    command = [sys.executable, "-c", "import sys; from bertprep.cli import main; sys.exit(main())",
               "tokenize", "--vocab", zh_vocab]
    done = subprocess.run(command, input=as_input_lines(rows).encode("utf-8"), capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()
    outputs = [json.loads(line) for line in done.stdout.decode("utf-8").splitlines()]
    assert outputs == [{"tokens": row["tokens"], "ids": row["ids"]} for row in rows]


def test_undecodable_bytes_give_one_line_naming_file_and_line(zh_vocab, tmp_path, capsys):
    source = tmp_path / "bad.txt"
    source.write_bytes("好的\n".encode("utf-8") + b"ok \xff\xfe here\n" + "后面\n".encode("utf-8"))
    code, out, err = run_cli(capsys, "--vocab", zh_vocab, "--input", str(source))
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert str(source) in err and "line 2" in err and "UTF-8" in err


def test_empty_input_writes_nothing(zh_vocab, tmp_path, capsys):
    source = tmp_path / "empty.txt"
    source.write_bytes(b"")
    assert run_cli(capsys, "--vocab", zh_vocab, "--input", str(source)) == (0, "", "")


def test_blank_lines_crlf_and_bom(en_vocab, tmp_path, capsys):
    source = tmp_path / "crlf.txt"
    source.write_bytes("\ufeffHello, World!\r\n\r\nCafé\n".encode("utf-8"))
    code, out, err = run_cli(capsys, "--vocab", en_vocab, "--input", str(source))
    assert code == 0, err
    assert [json.loads(line)["tokens"] for line in out.splitlines()] == [
        ["hello", ",", "world", "!"], [], ["cafe"]]


def test_missing_vocabulary_exits_2_naming_the_path(tmp_path, capsys):
    missing = tmp_path / "no_such_vocab.txt"
    code, out, err = run_cli(capsys, "--vocab", str(missing), "--input", str(tmp_path / "x.txt"))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and str(missing) in err


def test_vocabulary_without_unk_exits_2(tmp_path, capsys):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("[PAD]\n[CLS]\n[SEP]\nhello\n", encoding="utf-8")
    code, out, err = run_cli(capsys, "--vocab", str(vocab))
    assert code == 2 and "[UNK]" in err and str(vocab) in err and err.count("\n") == 1


def test_missing_input_and_no_vocabulary_exit_2(zh_vocab, tmp_path, capsys):
    code, _, err = run_cli(capsys, "--vocab", zh_vocab, "--input", str(tmp_path / "absent.txt"))
    assert code == 2 and "absent.txt" in err
    code, _, err = run_cli(capsys)
    assert code == 2 and "--vocab" in err


def test_strip_accents_options(en_vocab, tmp_path, capsys):
    source = tmp_path / "vi.txt"
    source.write_text("Tiếng Việt\n", encoding="utf-8")
    _, default, _ = run_cli(capsys, "--vocab", en_vocab, "--input", str(source))
    _, kept, _ = run_cli(capsys, "--vocab", en_vocab, "--no-strip-accents", "--input", str(source))
    _, cased, _ = run_cli(capsys, "--vocab", en_vocab, "--no-lower", "--strip-accents", "--input", str(source))
    assert json.loads(default)["tokens"][:2] == ["tie", "##ng"]
    assert json.loads(kept)["tokens"] != json.loads(default)["tokens"]
    assert json.loads(cased)["tokens"][0] == "[UNK]"  # "Tieng": cased words are not in an uncased vocab


def test_sentencepiece_model_through_the_command(tmp_path, capsys):
    import sentencepiece

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog\nshe sells sea shells\n" * 5, encoding="utf-8")
    sentencepiece.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(tmp_path / "sp"), vocab_size=60, hard_vocab_limit=False,
        control_symbols=["[PAD]", "[CLS]", "[SEP]", "[MASK]"], minloglevel=2)
    source = tmp_path / "in.txt"
    source.write_text("The fox\n", encoding="utf-8")
    code, out, err = run_cli(capsys, "--spm-model", str(tmp_path / "sp.model"), "--input", str(source))
    assert code == 0, err
    record = json.loads(out)
    assert record["tokens"][0].startswith("\u2581") and len(record["ids"]) == len(record["tokens"])
    assert "".join(record["tokens"]).replace("\u2581", " ").strip() == "the fox"
