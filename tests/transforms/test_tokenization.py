"""Tokenization: reference parity on every golden line, vocabularies, SentencePiece."""
import hashlib
import json
import pickle
import unicodedata

import pytest

from bertprep.errors import BertprepError
from bertprep.transforms.tokenization.tokenizer import load_tokenizer
from bertprep.transforms.tokenization.vocabulary import Vocabulary
from gcs_emulator import gcs_bucket, storage_emulator  # noqa: F401 (fixtures: a local Cloud Storage emulator)
from spm_helpers import train_spm

GOLDEN = [
    ("tokenize_zh_lower.jsonl", "zh_vocab.txt", True),
    ("tokenize_en_uncased_lower.jsonl", "en_uncased_vocab.txt", True),
    ("tokenize_en_uncased_nolower.jsonl", "en_uncased_vocab.txt", False),
]


def read_golden(shared, name):
    with open(shared / "golden" / name, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


@pytest.fixture(scope="module")
def en_tokenizer(en_vocab):
    return load_tokenizer(vocab=en_vocab)


# --- reference parity ------------------------------------------------------------------------------

@pytest.mark.parametrize("golden,vocab,lower", GOLDEN)
def test_every_golden_line_matches_tokens_and_ids(shared, golden, vocab, lower):
    rows = read_golden(shared, golden)
    assert len(rows) > 50
    tokenizer = load_tokenizer(vocab=str(shared / "data" / "vocab" / vocab), lower=lower)
    encoded = tokenizer.encode_batch([row["text"] for row in rows])
    token_lists = tokenizer.tokenize_batch([row["text"] for row in rows])
    mismatches = []
    for row, (tokens, ids), batch_tokens in zip(rows, encoded, token_lists):
        single = tokenizer.tokenize(row["text"])
        if not (tokens == batch_tokens == single == row["tokens"] and ids == row["ids"]
                and tokenizer.convert_tokens_to_ids(single) == row["ids"]):
            mismatches.append(row["text"])
    assert mismatches == [], "%d of %d lines differ, first: %r" % (len(mismatches), len(rows), mismatches[:3])


def test_basic_tokenize_then_wordpiece_is_tokenize(shared, zh_vocab):
    tokenizer = load_tokenizer(vocab=zh_vocab)
    for row in read_golden(shared, "tokenize_zh_lower.jsonl")[-200:]:
        pieces = [piece for word in tokenizer.basic_tokenize(row["text"]) for piece in tokenizer.wordpiece(word)]
        assert pieces == row["tokens"]


def test_reference_rules_by_hand(en_tokenizer):
    basic = en_tokenizer.basic_tokenize
    assert basic("mixed中文English") == ["mixed", "中", "文", "english"]  # CJK ideographs split
    # kana and Hangul are not in the CJK ranges (NFD turns the Hangul syllables into jamo)
    assert basic("カタカナ한국어") == [unicodedata.normalize("NFD", "カタカナ한국어")]
    assert basic("$5^`~x") == ["$", "5", "^", "`", "~", "x"]  # ASCII symbols count as punctuation
    assert basic("a\x00b\ufffdc\x01d\u200be") == ["abcde"]  # NUL, U+FFFD, Cc and Cf dropped
    assert basic("a\tb\u3000c\xa0d\ne") == ["a", "b", "c", "d", "e"]  # tab and Zs are spaces
    assert basic("Café RÉSUMÉ") == ["cafe", "resume"]  # lower-cased, then NFD accents dropped
    assert basic("a\u2028b") == ["a", "b"]  # kept by cleaning, but str.split() splits there


def test_word_of_more_than_200_characters_is_unk(en_tokenizer):
    assert en_tokenizer.tokenize("a" * 200)[0] != "[UNK]"
    assert en_tokenizer.tokenize("a" * 201) == ["[UNK]"]
    assert en_tokenizer.tokenize("x " + "a" * 201 + ", end") == ["x", "[UNK]", ",", "end"]


def test_any_unmatched_piece_makes_the_whole_word_unk(tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("[PAD]\n[UNK]\nun\n##aff\n##able\naff\n", encoding="utf-8")
    tokenizer = load_tokenizer(vocab=str(vocab))
    assert tokenizer.tokenize("unaffable") == ["un", "##aff", "##able"]
    assert tokenizer.tokenize("unaffablex aff") == ["[UNK]", "aff"]
    assert tokenizer.convert_tokens_to_ids(["un", "nope"]) == [2, 1]


def test_strip_accents_apart_from_lower(en_vocab):
    keep = load_tokenizer(vocab=en_vocab, lower=True, strip_accents=False)
    assert keep.basic_tokenize("Tiếng Việt がんばる") == ["tiếng", "việt", "がんばる"]
    default = load_tokenizer(vocab=en_vocab, lower=True)
    assert default.basic_tokenize("Tiếng Việt がんばる") == ["tieng", "viet", "かんはる"]
    cased_stripped = load_tokenizer(vocab=en_vocab, lower=False, strip_accents=True)
    assert cased_stripped.basic_tokenize("Tiếng") == ["Tieng"]
    assert load_tokenizer(vocab=en_vocab, lower=False).basic_tokenize("Tiếng") == ["Tiếng"]


def test_strip_accents_false_keeps_dakuten_and_diacritics_in_pieces(tmp_path):
    vocab = tmp_path / "vocab.txt"
    entries = ["[PAD]", "[UNK]", "が", "##ん", "##ば", "##る", "か", "##は", "ti", "##ế", "##e", "##ng"]
    vocab.write_text("\n".join(entries) + "\n", encoding="utf-8")
    keep = load_tokenizer(vocab=str(vocab), lower=True, strip_accents=False)
    assert keep.tokenize("がんばる TIẾNG") == ["が", "##ん", "##ば", "##る", "ti", "##ế", "##ng"]
    strip = load_tokenizer(vocab=str(vocab), lower=True)
    assert strip.tokenize("がんばる TIẾNG") == ["か", "##ん", "##は", "##る", "ti", "##e", "##ng"]


# --- vocabulary ------------------------------------------------------------------------------------

def test_missing_vocabulary_names_the_path(tmp_path):
    missing = tmp_path / "nope" / "vocab.txt"
    with pytest.raises(BertprepError) as error:
        load_tokenizer(vocab=str(missing))
    assert str(missing) in str(error.value) and "\n" not in str(error.value)


def test_vocabulary_without_unk_is_an_error(tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("[PAD]\n[CLS]\nhello\n", encoding="utf-8")
    with pytest.raises(BertprepError, match=r"\[UNK\]") as error:
        load_tokenizer(vocab=str(vocab))
    assert str(vocab) in str(error.value)


def test_empty_and_undecodable_vocabularies(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(BertprepError, match="empty"):
        load_tokenizer(vocab=str(empty))
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"[UNK]\nok\n\xff\xfe\n")
    with pytest.raises(BertprepError, match="line 3"):
        load_tokenizer(vocab=str(bad))


def test_fingerprint_is_sha256_of_tokens_joined_by_newlines(zh_vocab):
    with open(zh_vocab, encoding="utf-8") as handle:
        tokens = [line.strip() for line in handle.read().split("\n")[:-1]]
    tokenizer = load_tokenizer(vocab=zh_vocab)
    assert tokenizer.vocab_size == len(tokens) == 21128
    assert tokenizer.fingerprint == hashlib.sha256("\n".join(tokens).encode("utf-8")).hexdigest()
    assert tokenizer.fingerprint != load_tokenizer(vocab=zh_vocab.replace("zh_vocab", "en_uncased_vocab")).fingerprint


def test_vocabulary_lines_as_the_reference_reads_them(tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_bytes("\ufeff[PAD]\r\n[UNK]\r\n dup \r\nx\r\ndup\r\n".encode("utf-8"))
    loaded = Vocabulary.from_file(str(vocab))
    assert loaded.tokens == ["[PAD]", "[UNK]", "dup", "x", "dup"]
    assert loaded.token_to_id["dup"] == 4  # a repeated token keeps its last id, as the reference
    tokenizer = load_tokenizer(vocab=str(vocab))
    assert tokenizer.vocab_size == 5
    with pytest.raises(BertprepError, match=r"\[CLS\]"):
        tokenizer.special_ids  # noqa: B018 - only the jobs that need them ask


def test_special_ids_and_id_round_trip(zh_vocab):
    tokenizer = load_tokenizer(vocab=zh_vocab)
    assert tokenizer.special_ids == {"[PAD]": 0, "[UNK]": 100, "[CLS]": 101, "[SEP]": 102, "[MASK]": 103}
    ids = tokenizer.convert_tokens_to_ids(tokenizer.tokenize("今天天气很好，hello！"))
    assert tokenizer.convert_tokens_to_ids(tokenizer.convert_ids_to_tokens(ids)) == ids
    with pytest.raises(BertprepError, match="outside"):
        tokenizer.convert_ids_to_tokens([21128])
    assert tokenizer.is_word_start("hello") and not tokenizer.is_word_start("##lo")
    assert tokenizer.tokenize("中文".encode("utf-8") + b"\xff") == ["中", "文"]  # bytes: the reference's decode


def test_tokenizer_pickles_as_its_settings(en_vocab):
    tokenizer = load_tokenizer(vocab=en_vocab, lower=False, strip_accents=True)
    before = tokenizer.encode_batch(["Héllo wörld", "x\ue000y"])
    state = tokenizer.__getstate__()
    assert set(state) == {"tokens", "path", "lower", "strip_accents"}
    copy = pickle.loads(pickle.dumps(tokenizer))
    assert (copy.lower, copy.strip_accents) == (False, True)
    assert copy.encode_batch(["Héllo wörld", "x\ue000y"]) == before
    assert copy.fingerprint == tokenizer.fingerprint


def test_no_vocabulary_is_an_error():
    with pytest.raises(BertprepError, match="--vocab"):
        load_tokenizer()


# --- SentencePiece ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spm_model(tmp_path_factory):
    return train_spm(tmp_path_factory.mktemp("spm"), "tiny")


def test_sentencepiece_pieces_word_starts_and_control_symbols(spm_model):
    tokenizer = load_tokenizer(spm_model=spm_model)
    assert tokenizer.kind == "sentencepiece"
    special = tokenizer.special_ids
    assert sorted(special) == ["[CLS]", "[MASK]", "[PAD]", "[SEP]", "[UNK]"]
    assert special["[UNK]"] == 0 and len(set(special.values())) == 5
    for name in ("[CLS]", "[SEP]", "[MASK]", "[PAD]"):
        assert tokenizer.convert_ids_to_tokens([special[name]]) == [name]
        assert tokenizer.is_word_start(name)
    tokens = tokenizer.tokenize("The Quick fox")
    assert tokens == tokenizer.tokenize("the quick fox")  # lower-cased first
    assert "".join(tokens).replace("\u2581", " ").strip() == "the quick fox"
    starts = [token for token in tokens if tokenizer.is_word_start(token)]
    assert len(starts) == 3 and all(token.startswith("\u2581") for token in starts)
    pieces = [piece for word in tokenizer.basic_tokenize("The Quick fox") for piece in tokenizer.wordpiece(word)]
    assert pieces == tokens
    tokens, ids = tokenizer.encode("the fox")
    assert tokenizer.convert_ids_to_tokens(ids) == tokens
    assert tokenizer.tokenize_batch(["the", ""]) == [tokenizer.tokenize("the"), []]


def test_sentencepiece_ids_come_from_the_vocab_file(spm_model, tmp_path):
    import shutil

    model = tmp_path / "m.model"
    shutil.copy(spm_model, model)
    reference = load_tokenizer(spm_model=spm_model)
    without_vocab = load_tokenizer(spm_model=str(model))  # no .vocab beside it: the model's own ids
    assert without_vocab.vocab == reference.vocab
    assert without_vocab.fingerprint == reference.fingerprint
    lines = open(spm_model[:-len(".model")] + ".vocab", encoding="utf-8").read().splitlines()
    (tmp_path / "m.vocab").write_text("\n".join(lines[:7] + lines[8:] + lines[7:8]) + "\n", encoding="utf-8")
    moved = load_tokenizer(spm_model=str(model))
    moved_token = lines[7].split("\t")[0]
    assert moved.vocab[moved_token] == len(lines) - 1
    assert moved.convert_tokens_to_ids(["never-a-piece"]) == [0]  # <unk>, as the reference assumes


def test_sentencepiece_without_control_symbols_is_a_clear_error(tmp_path):
    model = train_spm(tmp_path, "plain", control_symbols=("[CLS]",))
    with pytest.raises(BertprepError) as error:
        load_tokenizer(spm_model=model)
    message = str(error.value)
    assert model in message and "[SEP]" in message and "[MASK]" in message and "control_symbols" in message
    with pytest.raises(BertprepError, match="not found"):
        load_tokenizer(spm_model=str(tmp_path / "missing.model"))


def test_sentencepiece_pickles(spm_model):
    tokenizer = load_tokenizer(spm_model=spm_model, lower=False)
    copy = pickle.loads(pickle.dumps(tokenizer))
    assert copy.tokenize("The Fox") == tokenizer.tokenize("The Fox") != load_tokenizer(spm_model=spm_model).tokenize(
        "The Fox")
    assert copy.special_ids == tokenizer.special_ids


def test_sentencepiece_accent_stripping_only_when_asked(spm_model):
    plain = load_tokenizer(spm_model=spm_model)
    stripped = load_tokenizer(spm_model=spm_model, strip_accents=True)
    assert plain.basic_tokenize("Fóx") == ["fóx"]
    assert stripped.basic_tokenize("Fóx") == ["fox"]
    assert stripped.tokenize("Fóx") == plain.tokenize("fox")


def test_remote_vocabulary_is_read_through_the_storage_door(storage_emulator, gcs_bucket, zh_vocab):
    from gcs_emulator import upload

    remote = upload(zh_vocab, gcs_bucket + "/zh_vocab.txt")  # on the local Cloud Storage emulator
    tokenizer = load_tokenizer(vocab=remote)
    assert tokenizer.fingerprint == load_tokenizer(vocab=zh_vocab).fingerprint
    with pytest.raises(BertprepError, match="%s/missing.txt" % gcs_bucket):
        load_tokenizer(vocab=gcs_bucket + "/missing.txt")
