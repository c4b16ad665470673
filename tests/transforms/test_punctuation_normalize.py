"""--normalize-punctuation (bertprep/transforms/tokenization/punctuation.py): which characters it maps for a
vocabulary, that it is off by default (the reference tokenizer, unwrapped), and that it moves no offset a job
relies on: SQuAD answers land on the same characters of the context, tagging words keep their tags."""
import collections
import json
import pickle

import pytest

from bertprep import cli
from bertprep.io.formats.squad import iter_squad_file
from bertprep.transforms.finetune import squad_examples, squad_features, tagging_features
from bertprep.transforms.tokenization import punctuation
from bertprep.transforms.tokenization.tokenizer import WordPieceTokenizer, load_tokenizer


@pytest.fixture(scope="module")
def zh_plain(zh_vocab):
    return load_tokenizer(vocab=zh_vocab)


@pytest.fixture(scope="module")
def zh_normalized(zh_vocab):
    return load_tokenizer(vocab=zh_vocab, normalize_punctuation=True)


def test_only_characters_the_vocabulary_lacks_are_mapped_to_ones_it_has(zh_plain, zh_normalized, en_vocab):
    mapping = zh_normalized.character_map
    assert {char: mapping[char] for char in "“”‘’—…"} == {"“": '"', "”": '"', "‘": "'", "’": "'", "—": "-",
                                                         "…": "⋯"}
    for char, equivalent in mapping.items():
        assert len(char) == len(equivalent) == 1
        assert zh_plain.tokenize(char) == ["[UNK]"] and "[UNK]" not in zh_plain.tokenize(equivalent * 2)
    assert "，" not in mapping and "：" not in mapping  # the vocabulary has them: left as the reference has them
    english = load_tokenizer(vocab=en_vocab, normalize_punctuation=True).character_map
    assert "“" not in english and "—" not in english and "…" not in english  # the English vocabulary has them
    assert english["；"] == ";" and english["Ａ"] == "A" and english["⋯"] == "…"
    assert zh_normalized.tokenize("他说：“好……”——对") == ["他", "说", "：", '"', "好", "⋯⋯", '"', "-", "-", "对"]
    assert zh_plain.tokenize("他说：“好……”——对").count("[UNK]") == 6


def test_off_by_default_the_tokenizer_is_the_reference_one(zh_vocab, zh_plain):
    assert type(zh_plain) is WordPieceTokenizer
    assert type(load_tokenizer(vocab=zh_vocab, normalize_punctuation=False)) is WordPieceTokenizer


def test_the_normalized_tokenizer_survives_pickling_and_keeps_every_entry_point(zh_normalized):
    copy = pickle.loads(pickle.dumps(zh_normalized))
    text = "“中国”——好…"
    assert copy.character_map == zh_normalized.character_map
    assert copy.tokenize(text) == zh_normalized.tokenize(text)
    (tokens, ids), = copy.encode_batch([text])
    assert copy.encode_ids_batch([text]) == [ids] and copy.encode(text) == (tokens, ids)
    assert copy.tokenize_batch([text]) == [tokens] and copy.convert_tokens_to_ids(tokens) == ids
    assert "[UNK]" not in tokens and copy.vocab_size == zh_normalized.vocab_size
    counter = collections.Counter()
    copy.count_unknown_words("“砀”", counter)
    assert counter == {"砀": 1}  # the quotes are mapped; the rare character is still [UNK]
    assert copy.basic_tokenize(text)[0] == '"' and copy.unk_id == zh_normalized.unk_id


def test_punctuation_words_are_told_from_the_texts_own_script():
    for word in ("“", "—", "…", "，", "○○○", "€", "┬", "`"):
        assert punctuation.is_punctuation_or_symbol(word), word
    for word in ("砀", "the", "ⅶ", "2", "café", "મોદી", ""):
        assert not punctuation.is_punctuation_or_symbol(word), word


def answer_characters(example, feature):
    """The context characters a training feature's answer positions point at."""
    first = feature["token_to_orig_map"][feature["start_position"]]
    last = feature["token_to_orig_map"][feature["end_position"]]
    return example.word_spans[first][0], example.word_spans[last][1]


def test_squad_answers_land_on_the_same_characters_with_the_option(shared, zh_plain, zh_normalized):
    """Every answer of CMRC 2018 (trial): the same context characters with and without the option, and many of
    them come after a mapped character, where a mapping that moved offsets would show."""
    mapped = set(zh_normalized.character_map)
    answers = after_mapped = 0
    for record in iter_squad_file(str(shared / "data" / "squad" / "cmrc2018_trial.json")):
        try:
            example = squad_examples.make_example(record.value, True, False)
            plain, _ = squad_features.convert_example(example, zh_plain, 128, 64, 32, True)
        except squad_examples.AnswerError:
            continue
        normalized, _ = squad_features.convert_example(example, zh_normalized, 128, 64, 32, True)
        spans = [answer_characters(example, feature) for feature in plain if feature["start_position"]]
        assert spans == [answer_characters(example, feature) for feature in normalized if feature["start_position"]]
        for start, end in spans:
            assert example.orig_answer_text.strip() in example.context[start:end]
        answers += 1
        after_mapped += bool(spans) and bool(mapped.intersection(example.context[:spans[0][0]]))
    assert answers > 900 and after_mapped > 50  # 925 and 95 on the trial set


def test_tagging_words_keep_their_tags_with_the_option(shared, zh_plain, zh_normalized):
    with open(shared / "data" / "ner" / "peopledaily_dev.bio", encoding="utf-8") as handle:
        sentences = handle.read().split("\n\n")
    tag_ids = {"O": 0, "B-PER": 1, "I-PER": 2, "B-ORG": 3, "I-ORG": 4, "B-LOC": 5, "I-LOC": 6}
    changed = 0
    for number, block in enumerate(sentences):
        lines = [line for line in block.splitlines() if line.strip()]
        if not lines:
            continue
        words, tags = tagging_features.parse_conll(lines)
        plain, _ = tagging_features.convert_sentence(words, tags, tag_ids, zh_plain, 256, number, True)
        normalized, _ = tagging_features.convert_sentence(words, tags, tag_ids, zh_normalized, 256, number, True)
        for before, after in zip(plain, normalized):
            assert (after["label_ids"], after["label_weights"]) == (before["label_ids"], before["label_weights"])
        changed += [record["input_ids"] for record in plain] != [record["input_ids"] for record in normalized]
    assert changed > 300  # sentences with quotes or dashes, whose [UNK] became the equivalent's id


def test_a_squad_job_with_the_option_records_it_and_labels_the_answer(zh_vocab, tmp_path):
    from test_classifier_helpers import read_output

    context = "他说：“北京是中国的首都……”——这是常识。"
    question = {"id": "q1", "question": "中国的首都是哪里？", "answers": [{"text": "北京", "answer_start": 4}]}
    data = {"version": "v1.1", "data": [{"title": "t", "paragraphs": [{"context": context, "qas": [question]}]}]}
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "out"
    assert cli.main(["squad", "--input", str(path), "--vocab", zh_vocab, "--output", str(out), "--strict",
                     "--normalize-punctuation", "--max-seq-length", "64", "--max-query-length", "16"]) == 0
    info, (record,) = read_output(out)
    assert info["config"]["normalize_punctuation"] is True and info["punctuation_map"]["applied"] is True
    assert info["stats"]["unk_rate"]["unk"] == 0
    tokens = load_tokenizer(vocab=zh_vocab).convert_ids_to_tokens(record["input_ids"].tolist())
    start, end = int(record["start_positions"]), int(record["end_positions"])
    assert tokens[start:end + 1] == ["北", "京"] and tokens[start - 1] == '"'


@pytest.mark.parametrize("job", ["pretraining", "classifier", "squad", "tagging", "embed"])
def test_every_tokenizing_job_takes_the_option_and_a_jobs_file_can_set_it(job, capsys):
    from bertprep.service import catalog

    with pytest.raises(SystemExit):
        cli.main([job, "--help"])
    assert "--normalize-punctuation" in capsys.readouterr().out
    if job != "embed":
        assert catalog.args_to_argv(job, {"normalize-punctuation": True}) == ["--normalize-punctuation"]


def test_squad_predict_cuts_a_prediction_holding_a_mapped_character_from_the_original_text():
    from bertprep.transforms.finetune.squad_postprocess import final_text

    mapping = {"“": '"', "”": '"'}
    orig = "“hello”, she said"
    # The predicted pieces hold the mapped quote; the original characters come back, not the whole words.
    assert final_text('" hello', orig, character_map=mapping) == "“hello"
    assert final_text('" hello', orig) == orig  # without the map the span is not found: the reference's fallback
    assert final_text("hello", orig, character_map=mapping) == final_text("hello", orig) == "hello"


def test_a_sentencepiece_model_gets_the_same_map(tmp_path):
    import sentencepiece

    corpus = tmp_path / "corpus.txt"
    corpus.write_text('she said "the fox - the dog" and left\nit\'s the \'end\' - or not\n' * 20, encoding="utf-8")
    sentencepiece.SentencePieceTrainer.train(input=str(corpus), model_prefix=str(tmp_path / "quotes"), vocab_size=40,
                                             hard_vocab_limit=False, minloglevel=2,
                                             control_symbols=["[PAD]", "[CLS]", "[SEP]", "[MASK]"])
    plain = load_tokenizer(spm_model=str(tmp_path / "quotes.model"))
    normalized = load_tokenizer(spm_model=str(tmp_path / "quotes.model"), normalize_punctuation=True)
    assert {char: normalized.character_map[char] for char in "“”’—"} == {"“": '"', "”": '"', "’": "'", "—": "-"}
    text = "she said “the fox — the dog”"
    assert normalized.tokenize(text) == plain.tokenize('she said "the fox - the dog"')
    assert normalized.unk_id not in normalized.encode(text)[1] and plain.unk_id in plain.encode(text)[1]
