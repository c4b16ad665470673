"""Warnings from the data (bertprep/publish/data_warnings.py): each rule on hand-made info dicts, the [UNK] word
lookups of the tokenizers, the unknown-word summary's determinism, and whole runs of the issue's mistakes:
warnings reach the terminal, info.json and the top of report.html, --strict fails and publishes nothing,
and a clean run prints no warning."""
import collections
import json
import os
import random

import pytest

from bertprep import cli, data_warnings
from bertprep.errors import BertprepError
from bertprep.pipelines.unknown_words import TOP_WORDS, _Summary
from bertprep.transforms.tokenization.tokenizer import UnknownWordSample, load_tokenizer

# ---------------------------------------------------------------- the rules, on hand-made info dicts


def clean_info(**changes):
    """The info.json of an unremarkable pretraining run; `changes` replace top-level entries."""
    info = {
        "kind": "pretraining",
        "config": {"input": "corpus.txt", "lower": True, "dupe_factor": 2, "next_sentence": "nsp"},
        "counts": {"read": 100, "used": 100, "dead_lettered": 0, "records_out": 400},
        "dead_letters_by_reason": {},
        "vocabulary_case": {"entries_with_letters": 20000, "entries_with_upper_case": 3},
        "stats": {"unk_rate": {"unk": 5, "tokens": 10000}, "next_sentence_labels": {"0": 180, "1": 220},
                  "unknown_words": {"occurrences": 5, "distinct": 2, "with_upper_case": 0,
                                    "top": [["“", 3], ["—", 2]]}},
    }
    info.update(changes)
    return info


def codes(info):
    return [warning.code for warning in data_warnings.warnings_for(info)]


def test_a_clean_run_has_no_warning():
    info = clean_info()
    assert data_warnings.check(info) == [] and info["warnings"] == []
    assert data_warnings.lines(info) == []


def test_unk_rate_above_one_percent_names_the_rate_and_the_words():
    info = clean_info()
    info["stats"]["unk_rate"] = {"unk": 101, "tokens": 10000}
    info["stats"]["unknown_words"]["top"] = [["w%d" % k, 20 - k] for k in range(12)]
    (warning,) = data_warnings.warnings_for(info)
    assert warning.code == "unk_rate"
    assert warning.message.startswith("1.0% of tokens are [UNK] (101 of 10,000)")
    assert "w0 (20), w1 (19)" in warning.message and "w9 (11)" in warning.message
    assert "w10" not in warning.message  # ten words at most
    info["stats"]["unk_rate"] = {"unk": 100, "tokens": 10000}  # exactly 1% is not above it
    assert codes(info) == []


def test_unknown_words_counted_in_a_sample_say_so():
    info = clean_info()
    info["stats"]["unk_rate"] = {"unk": 500, "tokens": 10000}
    info["stats"]["unknown_word_sample"] = {"sentences": 1664, "buckets_capped": 0}
    assert "became [UNK]: “ (3)" in data_warnings.warnings_for(info)[0].message
    info["stats"]["unknown_word_sample"]["buckets_capped"] = 3
    assert "became [UNK] in a sample of 1,664 sentences: “ (3)" in data_warnings.warnings_for(info)[0].message


def test_case_mismatch_says_which_setting_fits_the_vocabulary():
    uncased = clean_info()
    uncased["config"]["lower"] = False
    assert codes(uncased) == []  # no upper-case word became [UNK]: nothing says the setting hurts
    uncased["stats"]["unknown_words"]["with_upper_case"] = 57
    (warning,) = data_warnings.warnings_for(uncased)
    assert warning.code == "case" and "use --lower" in warning.message and "57 words" in warning.message

    cased = clean_info(vocabulary_case={"entries_with_letters": 20000, "entries_with_upper_case": 6000})
    (warning,) = data_warnings.warnings_for(cased)
    assert warning.code == "case" and "use --no-lower" in warning.message
    cased["config"]["lower"] = False
    assert codes(cased) == []

    chinese = clean_info(vocabulary_case={"entries_with_letters": 40, "entries_with_upper_case": 0})
    chinese["config"]["lower"] = False
    chinese["stats"]["unknown_words"]["with_upper_case"] = 9
    assert codes(chinese) == []  # too few entries with letters for case to mean anything


def test_vocabulary_case_skips_markers_and_continuation_marks():
    assert data_warnings.vocabulary_case(["[PAD]", "[UNK]", "<S>", "the", "##ing", "中", "1"]) == {
        "entries_with_letters": 2, "entries_with_upper_case": 0}
    assert data_warnings.vocabulary_case(["The", "##Ing", "the", "ß"]) == {
        "entries_with_letters": 4, "entries_with_upper_case": 2}


def test_a_dead_letter_reason_over_ten_percent_is_named_with_its_count():
    info = clean_info(dead_letters_by_reason={"undecodable": 11, "no tokens": 10})
    info["counts"].update(read=100, used=79, dead_lettered=21)
    (warning,) = data_warnings.warnings_for(info)
    assert warning.code == "dead_letters"
    assert warning.message.startswith("11 of 100 inputs (11.0%) were dead-lettered as 'undecodable'")
    assert warning.message.endswith("the input is not UTF-8 text")


def squad_info(split="train", version_2=False, unanswerable=337, answer_count=337):
    return {"kind": "squad_%s" % split,
            "config": {"split": split, "version_2_with_negative": version_2, "lower": True},
            "counts": {"read": 478, "written": 478 - answer_count, "dead_lettered": answer_count},
            "dead_letters_by_reason": {"answer count": answer_count} if answer_count else {},
            "stats": {"unanswerable_questions": unanswerable}}


def test_squad_2_data_read_as_1_1_names_the_option():
    (warning,) = data_warnings.warnings_for(squad_info())
    assert warning.code == "dead_letters" and "337 of 478 inputs" in warning.message
    assert "337 questions with is_impossible or no answers" in warning.message
    assert warning.message.endswith("add --version-2-with-negative")
    (warning,) = data_warnings.warnings_for(squad_info("eval", answer_count=0))
    assert warning.code == "squad_version" and "read as answerable" in warning.message
    (warning,) = data_warnings.warnings_for(squad_info(unanswerable=20, answer_count=20))  # under 10%
    assert warning.code == "squad_version" and "they are dead-lettered" in warning.message
    assert codes(squad_info(version_2=True, answer_count=0)) == []
    assert codes(squad_info(unanswerable=0, answer_count=0)) == []


def test_pretraining_with_few_instances_or_only_random_next_sentences():
    few = clean_info()
    few["counts"].update(records_out=90)  # 45 a pass from 100 documents
    few["stats"]["next_sentence_labels"] = {"0": 40, "1": 50}
    assert codes(few) == ["few_instances"]
    packed = clean_info()
    packed["config"]["packing"] = "full_sentences"
    packed["counts"].update(records_out=20)
    assert codes(packed) == []  # packing puts many documents in one instance

    one_sentence = clean_info()
    one_sentence["stats"]["next_sentence_labels"] = {"0": 0, "1": 400}
    (warning,) = data_warnings.warnings_for(one_sentence)
    assert warning.code == "next_sentence_labels" and warning.message.startswith("100.0% of next-sentence labels")
    one_sentence["config"]["next_sentence"] = "sop"
    assert codes(one_sentence) == []


def classifier_info(distribution, **config):
    return {"kind": "classifier", "config": dict({"lower": True, "label_type": "int"}, **config),
            "counts": {"read": sum(distribution.values()), "written": sum(distribution.values()),
                       "dead_lettered": 0, "filtered": 0},
            "stats": {"label_distribution": distribution}}


def test_classification_with_one_label_over_95_percent_of_rows():
    (warning,) = data_warnings.warnings_for(classifier_info({"0": 97, "1": 3}))
    assert warning.code == "label_skew" and warning.message.startswith("label '0' holds 97 of 100 rows (97.0%)")
    assert codes(classifier_info({"0": 95, "1": 5})) == []
    assert codes(classifier_info({"0": 10})) == []  # too few rows to say
    assert codes(classifier_info({"0": 97, "1": 3}, unlabeled=True)) == []


def test_empty_input_and_nothing_written():
    empty = clean_info(counts={"read": 0, "used": 0, "dead_lettered": 0, "records_out": 0})
    empty["stats"] = {}
    assert codes(empty) == ["empty_input"]
    all_dead = clean_info(counts={"read": 5, "used": 0, "dead_lettered": 5, "records_out": 0},
                          dead_letters_by_reason={"undecodable": 5})
    all_dead["stats"] = {}
    assert codes(all_dead) == ["no_output", "dead_letters"]


def test_strict_turns_warnings_into_one_line_failure():
    info = clean_info()
    info["config"]["strict"] = True
    assert data_warnings.check(info) == []  # nothing to fail on
    info["stats"]["unk_rate"] = {"unk": 5000, "tokens": 10000}
    with pytest.raises(BertprepError) as raised:
        data_warnings.check(info)
    assert str(raised.value).startswith("--strict: the data gave 1 warning, so nothing was published: 50.0% of")
    assert "\n" not in str(raised.value)


def test_odd_values_never_break_the_check():
    """A run's info from another job or an older version: rules skip what they cannot read."""
    for info in ({}, {"counts": None, "stats": None, "config": None}, {"kind": "classifier", "stats": {
            "label_distribution": [1, 2], "unk_rate": 0.5, "unknown_words": [["x", 1]]}},
            clean_info(stats={"unk_rate": {"unk": "many", "tokens": 10}, "next_sentence_labels": "?"})):
        assert isinstance(data_warnings.warnings_for(info), list)


# ---------------------------------------------------------------- what became [UNK], and its summary


def reference_unknown_words(tokenizer, text):
    return collections.Counter(word for word in tokenizer.basic_tokenize(text)
                               if tokenizer.wordpiece(word) == ["[UNK]"])


def unknown_words(tokenizer, text):
    counter = collections.Counter()
    tokenizer.count_unknown_words(text, counter)
    return counter


@pytest.mark.parametrize("lower", [True, False])
def test_wordpiece_unknown_words_are_the_words_that_became_unk(shared, zh_vocab, en_vocab, lower):
    lines = []
    for name in ("tricky_lines.txt", "en_sample_text.txt"):
        with open(shared / "data" / "corpus" / name, encoding="utf-8") as handle:
            lines.extend(line.rstrip("\n") for line in handle)
    lines += ["“中国”——好“", "“中国” ab—— 好", "The Quick brown fox, café", "\uf900\u4e00\uf900"]
    for vocab in (zh_vocab, en_vocab):
        tokenizer = load_tokenizer(vocab=vocab, lower=lower)
        for _ in range(2):  # the second pass takes the cached paths
            for line in lines:
                tokenizer.encode_ids_batch([line])
                assert unknown_words(tokenizer, line) == reference_unknown_words(tokenizer, line), line
    tokenizer = load_tokenizer(vocab=en_vocab, lower=False)
    assert unknown_words(tokenizer, "The Quick brown fox jumps over The Paris") == {"The": 2, "Quick": 1, "Paris": 1}


def test_an_unknown_word_sample_looks_at_texts_holding_unk_up_to_its_cap(en_vocab):
    tokenizer = load_tokenizer(vocab=en_vocab, lower=False)
    texts = ["the fox", "The fox", "a Dog and The cat", "the end", "Paris"]
    text_ids = tokenizer.encode_ids_batch(texts)
    whole = UnknownWordSample(tokenizer)
    whole.add(texts, text_ids)
    assert (whole.words, whole.texts, whole.capped) == ({"The": 2, "Dog": 1, "Paris": 1}, 3, False)
    capped = UnknownWordSample(tokenizer, max_texts=2)
    capped.add(texts[:2], text_ids[:2])
    capped.add(texts[2:], text_ids[2:])
    assert (capped.words, capped.texts, capped.capped) == ({"The": 2, "Dog": 1}, 2, True)


def test_sentencepiece_unknown_words_are_the_unknown_pieces(tmp_path):
    from spm_helpers import train_spm

    tokenizer = load_tokenizer(spm_model=train_spm(tmp_path, "tiny"))
    text = "the € fox ∑"
    ids = tokenizer.encode(text)[1]
    assert ids.count(tokenizer.unk_id) == 2
    assert unknown_words(tokenizer, text) == {"€": 1, "∑": 1}
    assert unknown_words(tokenizer, "the fox") == {}


def test_unknown_word_summary_is_the_same_however_beam_splits_the_input():
    rng = random.Random(7)
    words = collections.Counter({"w%03d" % k: rng.randint(1, 30) for k in range(200)})
    words.update({"Upper": 5, "tie-b": 40, "tie-a": 40})
    pairs = list(words.items())
    combine = _Summary()
    expected = None
    for trial in range(20):
        rng.shuffle(pairs)
        cuts = sorted(rng.sample(range(1, len(pairs)), rng.randint(0, 8)))
        parts = [pairs[a:b] for a, b in zip([0] + cuts, cuts + [len(pairs)])]
        accumulators = []
        for part in parts:
            accumulator = combine.create_accumulator()
            for pair in part:
                accumulator = combine.add_input(accumulator, pair)
            accumulators.append(accumulator)
        rng.shuffle(accumulators)
        summary = combine.extract_output(combine.merge_accumulators(accumulators))
        expected = expected or summary
        assert summary == expected
    top = sorted(words.items(), key=lambda item: (-item[1], item[0]))[:TOP_WORDS]
    assert expected == {"occurrences": sum(words.values()), "distinct": len(words), "with_upper_case": 5,
                        "top": [list(item) for item in top]}
    assert top[:2] == [("tie-a", 40), ("tie-b", 40)]
    assert combine.extract_output(combine.create_accumulator())["top"] == []


# ---------------------------------------------------------------- whole runs: the mistakes

CHINESE_SENTENCES = [
    "今天天气很好，我们一起去公园散步。", "小明在学校里认真学习数学和语文。", "这个城市的交通比以前方便多了。",
    "他每天早上六点起床，然后去跑步。", "我们的老师对学生非常有耐心。", "春天来了，山上的花都开了。",
    "妈妈在厨房里做我最喜欢吃的菜。", "这本书讲的是一个年轻人的故事。", "周末我和朋友一起去看了电影。",
    "经济发展给农村带来了很大的变化。", "孩子们在河边快乐地玩水。", "新的图书馆明年就要开放了。",
]
ENGLISH_SENTENCES = [
    "The Quick brown fox jumps over the lazy dog.", "Paris is a large City in France.",
    "My Brother reads a book every Sunday.", "The Weather was cold in January.",
    "Anna and Peter walked to the River.", "This Morning the train was late again.",
]


def write_documents(path, sentences, documents, per_document):
    """`documents` documents of `per_document` sentences each (taken round the list), blank-line separated."""
    lines = []
    for index in range(documents):
        lines += [sentences[(index * 5 + k) % len(sentences)] for k in range(per_document)] + [""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return str(path)


def run(capsys, *argv):
    """(exit status, stdout, stderr) of one in-process command."""
    status = cli.main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def warning_lines(stdout):
    return [line for line in stdout.splitlines() if line.startswith("WARNING:")]


def read_info(directory):
    with open(os.path.join(directory, "info.json"), encoding="utf-8") as handle:
        return json.load(handle)


PRETRAINING_FAST = ("--dupe-factor", 1, "--max-seq-length", 32, "--max-predictions-per-seq", 5)


@pytest.fixture
def flood(tmp_path):
    """A vocabulary of the special tokens and one character, and Chinese documents: almost all [UNK]."""
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n的\n", encoding="utf-8")
    corpus = write_documents(tmp_path / "zh.txt", CHINESE_SENTENCES, 12, 4)
    return str(vocab), corpus


def test_an_unk_flood_warns_in_the_terminal_info_json_and_report(flood, tmp_path, capsys):
    vocab, corpus = flood
    out = tmp_path / "out"
    status, stdout, _ = run(capsys, "pretraining", "--input", corpus, "--vocab", vocab, "--output", out,
                            *PRETRAINING_FAST)
    assert status == 0 and (out / "_COMPLETE").exists()
    lines = warning_lines(stdout)
    assert len(lines) == 1 and lines[0].startswith("WARNING: ") and "of tokens are [UNK]" in lines[0]
    assert stdout.rstrip().endswith(lines[-1])  # after the summary
    assert stdout.index("bertprep pretraining: complete") < stdout.index("WARNING:")
    info = read_info(out)
    assert [warning["code"] for warning in info["warnings"]] == ["unk_rate"]
    assert lines[0] == "WARNING: " + info["warnings"][0]["message"]
    unknown = info["stats"]["unknown_words"]
    assert len(unknown["top"]) == 10 and unknown["top"][0] == ["。", 48]  # a full stop ends each of 48 sentences
    assert "。 (48)" in lines[0]
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.index('<div class="warnings"') < page.index("<h2>Counts</h2>")
    assert "of tokens are [UNK]" in page[page.index('<div class="warnings"'):page.index("<h2>Counts</h2>")]
    assert json.loads((out / "report.json").read_text(encoding="utf-8"))["warnings"] == info["warnings"]


def test_strict_exits_non_zero_and_publishes_nothing(flood, tmp_path, capsys):
    vocab, corpus = flood
    out = tmp_path / "strict"
    status, stdout, stderr = run(capsys, "pretraining", "--input", corpus, "--vocab", vocab, "--output", out,
                                 "--strict", *PRETRAINING_FAST)
    assert status != 0
    error_lines = [line for line in stderr.splitlines() if line.startswith("bertprep: error:")]
    assert len(error_lines) == 1 and "--strict: the data gave 1 warning" in error_lines[0]
    assert "of tokens are [UNK]" in error_lines[0]
    assert not (out / "_COMPLETE").exists() and not (out / "info.json").exists()
    assert not (out / "report.html").exists()


def test_a_clean_run_prints_no_warning(zh_vocab, tmp_path, capsys):
    corpus = write_documents(tmp_path / "zh.txt", CHINESE_SENTENCES, 12, 6)
    out = tmp_path / "out"
    status, stdout, _ = run(capsys, "pretraining", "--input", corpus, "--vocab", zh_vocab, "--output", out,
                            "--strict", *PRETRAINING_FAST)
    assert status == 0 and (out / "_COMPLETE").exists()
    assert "WARNING" not in stdout
    info = read_info(out)
    assert info["warnings"] == [] and info["stats"]["unknown_words"]["occurrences"] == 0
    assert 'class="warnings"' not in (out / "report.html").read_text(encoding="utf-8")


def test_no_lower_with_an_uncased_vocabulary_says_use_lower(en_vocab, tmp_path, capsys):
    corpus = write_documents(tmp_path / "en.txt", ENGLISH_SENTENCES, 8, 4)
    out = tmp_path / "out"
    status, stdout, _ = run(capsys, "pretraining", "--input", corpus, "--vocab", en_vocab, "--output", out,
                            "--no-lower", *PRETRAINING_FAST)
    assert status == 0
    info = read_info(out)
    assert [warning["code"] for warning in info["warnings"]] == ["unk_rate", "case"]
    lines = warning_lines(stdout)
    assert len(lines) == 2 and lines[1].endswith("use --lower")
    top_words = [word for word, _ in info["stats"]["unknown_words"]["top"]]
    assert "The" in top_words and "Paris" in top_words


def test_an_empty_input_never_ends_silently_complete(zh_vocab, tmp_path, capsys):
    """With the publish gate (a run writing nothing fails) the run fails; without it, it must warn."""
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    out = tmp_path / "out"
    status, stdout, _ = run(capsys, "pretraining", "--input", empty, "--vocab", zh_vocab, "--output", out)
    if status == 0:
        assert (out / "_COMPLETE").exists()
        assert warning_lines(stdout) and "the input holds no records" in warning_lines(stdout)[0]
    else:
        assert not (out / "_COMPLETE").exists()


def test_documents_of_one_sentence_make_only_random_next_sentences(zh_vocab, tmp_path, capsys):
    corpus = write_documents(tmp_path / "zh.txt", CHINESE_SENTENCES, 24, 1)
    out = tmp_path / "out"
    status, stdout, _ = run(capsys, "pretraining", "--input", corpus, "--vocab", zh_vocab, "--output", out,
                            *PRETRAINING_FAST)
    assert status == 0
    assert [warning["code"] for warning in read_info(out)["warnings"]] == ["next_sentence_labels"]
    assert "100.0% of next-sentence labels are 1" in warning_lines(stdout)[0]


def squad_file(path, answerable, impossible):
    """A SQuAD 2.0 file: one paragraph, `answerable` questions with an answer, `impossible` without."""
    context = "The river flows through the old town and the bridge was built in the spring of that year."
    questions = [{"id": "a%d" % k, "question": "What flows through the old town?",
                  "answers": [{"text": "The river", "answer_start": 0}], "is_impossible": False}
                 for k in range(answerable)]
    questions += [{"id": "i%d" % k, "question": "Who built the new castle?", "answers": [],
                   "plausible_answers": [{"text": "the bridge", "answer_start": 42}], "is_impossible": True}
                  for k in range(impossible)]
    data = {"version": "v2.0", "data": [{"title": "t", "paragraphs": [{"context": context, "qas": questions}]}]}
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def test_squad_2_data_without_the_option_names_the_fix(en_vocab, tmp_path, capsys):
    data = squad_file(tmp_path / "v2.json", answerable=4, impossible=6)
    settings = ("--vocab", en_vocab, "--max-seq-length", 64, "--doc-stride", 32, "--max-query-length", 16)
    out = tmp_path / "v1"
    # 60% dead-lettered: over the default --max-dead-letter-rate, the run fails and its error names the fix.
    status, _, stderr = run(capsys, "squad", "--input", data, "--output", out, *settings)
    assert status == 2 and not (out / "_COMPLETE").exists()
    assert len(stderr.strip().splitlines()) == 1 and stderr.strip().endswith("add --version-2-with-negative")
    status, stdout, _ = run(capsys, "squad", "--input", data, "--output", out, "--max-dead-letter-rate", 1, *settings)
    assert status == 0
    (line,) = warning_lines(stdout)
    assert line.startswith("WARNING: 6 of 10 inputs (60.0%) were dead-lettered as 'answer count'")
    assert line.endswith("6 questions with is_impossible or no answers, as SQuAD 2.0 data does: "
                         "add --version-2-with-negative")
    out = tmp_path / "v2"
    status, stdout, _ = run(capsys, "squad", "--input", data, "--output", out, "--version-2-with-negative",
                            "--strict", *settings)
    assert status == 0 and "WARNING" not in stdout and read_info(out)["warnings"] == []


def test_classification_data_with_one_label_warns(en_vocab, tmp_path, capsys):
    rows = ["label\ttext_a"] + ["%d\tthe weather was %s today" % (int(k == 7), word)
                                for k, word in enumerate(["cold", "warm", "fine", "grey"] * 10)]
    data = tmp_path / "train.tsv"
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    status, stdout, _ = run(capsys, "classifier", "--input", data, "--vocab", en_vocab, "--output", out)
    assert status == 0
    (line,) = warning_lines(stdout)
    assert line.startswith("WARNING: label '0' holds 39 of 40 rows (97.5%)")


def test_strict_is_a_jobs_file_args_key_of_every_job():
    from bertprep.service import catalog

    for pipeline in ("pretraining", "classifier", "squad", "tagging"):
        assert catalog.args_to_argv(pipeline, {"strict": True}) == ["--strict"]
        assert catalog.args_to_argv(pipeline, {"strict": False}) == ["--no-strict"]  # overrides defaults.args
