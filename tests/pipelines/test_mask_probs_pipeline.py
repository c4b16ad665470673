"""The mask-probs Beam job end to end: counts against brute force, FASPell's values, outputs, accounting."""
import json
import os
import pickle
import re
from collections import Counter

import pyarrow.parquet as pq
import pytest

from bertprep import cli
from bertprep.options.mask_probs import MaskProbsOptions
from bertprep.pipelines import mask_probs
from bertprep.pipelines import registry
from bertprep.runtime import job_path
from bertprep.transforms.csc import confusion
from bertprep.io.formats import mask_probs_tables

STAT_COLUMNS = ("correct_count", "unchanged_count", "written_wrong_count", "as_wrong_count", "deleted_count",
                "inserted_count")


def run_job(tmp_path, name, **options):
    config = {"output": str(tmp_path / name), "seed": 12345, "workers": 1, "sources": "observed", "top_k": 15,
              "alpha": 10.0, "max_edit_rate": 0.5, "faspell_counting": "augmented", "format": "auto",
              }
    config.update(options)
    job_path.run(registry.pipeline("mask-probs"), MaskProbsOptions(**config), progress=False, summary=False)
    return config["output"]


def table(output, name):
    return pq.read_table(os.path.join(output, name + ".parquet")).to_pylist()


def info(output):
    with open(os.path.join(output, "info.json"), encoding="utf-8") as handle:
        return json.load(handle)


# ---- brute force, independent of the job's readers and alignment ------------------------------------

def _edit_alignment(correct, wrong):
    """Minimum edit alignment by dynamic programming: (unchanged, substitutions, deletions, insertions)."""
    n, m = len(correct), len(wrong)
    cost = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        for j in range(m + 1):
            if i == 0 or j == 0:
                cost[i][j] = i + j
            else:
                cost[i][j] = min(cost[i - 1][j] + 1, cost[i][j - 1] + 1,
                                 cost[i - 1][j - 1] + (correct[i - 1] != wrong[j - 1]))
    unchanged, subs, deletions, insertions = [], [], [], []
    i, j = n, m
    while i or j:
        if i and j and cost[i][j] == cost[i - 1][j - 1] + (correct[i - 1] != wrong[j - 1]):
            (unchanged.append(correct[i - 1]) if correct[i - 1] == wrong[j - 1]
             else subs.append((correct[i - 1], wrong[j - 1])))
            i, j = i - 1, j - 1
        elif i and cost[i][j] == cost[i - 1][j] + 1:
            deletions.append(correct[i - 1])
            i -= 1
        else:
            insertions.append(wrong[j - 1])
            j -= 1
    return unchanged, subs, deletions, insertions


def brute_force(pairs):
    """Per-character counts, pair counts and FASPell's augmented unchanged total for (wrong, correct) pairs."""
    stats = {name: Counter() for name in STAT_COLUMNS}
    pair_counts = Counter()
    faspell_total = 0
    for wrong, correct in pairs:
        if len(wrong) == len(correct):
            unchanged = [c for c, w in zip(correct, wrong) if c == w]
            subs = [(c, w) for c, w in zip(correct, wrong) if c != w]
            deletions, insertions = [], []
        else:
            unchanged, subs, deletions, insertions = _edit_alignment(correct, wrong)
        stats["correct_count"].update(correct)
        stats["unchanged_count"].update(unchanged)
        stats["written_wrong_count"].update(c for c, _ in subs)
        stats["as_wrong_count"].update(w for _, w in subs)
        stats["deleted_count"].update(deletions)
        stats["inserted_count"].update(insertions)
        pair_counts.update(subs)
        faspell_total += len(unchanged)
        if wrong != correct:
            faspell_total += len(correct) + sum(len(unchanged) + k for k in range(1, len(subs)))
    return stats, pair_counts, faspell_total


def tsv_pairs(path):
    with open(path, encoding="utf-8") as handle:
        return [tuple(f.strip() for f in line.rstrip("\n").split("\t")) for line in handle if line.strip()]


def sgml_pairs(path):
    with open(path, encoding="utf-8") as handle:
        return sgml_pairs_from_text(handle.read())


def sgml_pairs_from_text(text):
    """(pairs, number of blocks whose mistakes do not match the text)."""
    pairs, bad = [], 0
    for block in re.findall(r"<SENTENCE>(.*?)</SENTENCE>", text, re.S):
        sentence = re.search(r"<TEXT>(.*?)</TEXT>", block, re.S).group(1).strip()
        fixed = list(sentence)
        mistakes = re.findall(r"<LOCATION>\s*(\d+)\s*</LOCATION>\s*<WRONG>(.*?)</WRONG>\s*"
                              r"<CORRECTION>(.*?)</CORRECTION>", block, re.S)
        if any(not 0 < int(l) <= len(sentence) or sentence[int(l) - 1] != w.strip() for l, w, _ in mistakes):
            bad += 1
            continue
        for location, _, correction in mistakes:
            fixed[int(location) - 1] = correction.strip()
        pairs.append((sentence, "".join(fixed)))
    return pairs, bad


def assert_matches_brute_force(output, pairs):
    stats, pair_counts, faspell_total = brute_force(pairs)
    rows = {row["char"]: row for row in table(output, "char_stats")}
    assert set(rows) == set(stats["correct_count"]) | set(stats["as_wrong_count"]) | set(stats["inserted_count"])
    for name in STAT_COLUMNS:
        assert {c: r[name] for c, r in rows.items() if r[name]} == dict(stats[name]), name
    assert sum(r["faspell_unchanged_count"] for r in rows.values()) == faspell_total
    assert {(r["correct"], r["wrong"]): r["count"] for r in table(output, "confusion_pairs")} == dict(pair_counts)


# ---- acceptance: counts -------------------------------------------------------------------------------

def test_counts_equal_brute_force_on_the_shared_tsv(tmp_path, shared_csc):
    path = os.path.join(shared_csc, "sighan15_train.tsv")
    output = run_job(tmp_path, "tsv", input=path)
    pairs = tsv_pairs(path)
    assert_matches_brute_force(output, pairs)
    counts = info(output)["counts"]
    assert counts["read"] == counts["written"] == len(pairs) == 2338 and counts["dead_lettered"] == 0


def test_counts_equal_brute_force_on_the_shared_sgml_files(tmp_path, shared_csc):
    paths = [os.path.join(shared_csc, name) for name in ("sighan14_train.sgml", "sighan15_train.sgml")]
    output = run_job(tmp_path, "sgml", input=",".join(paths))
    pairs, bad = [], 0
    for path in paths:
        more, more_bad = sgml_pairs(path)
        pairs += more
        bad += more_bad
    assert_matches_brute_force(output, pairs)
    counts = info(output)["counts"]
    assert counts["written"] == len(pairs) and counts["dead_lettered"] == bad
    assert counts["read"] == counts["written"] + counts["dead_lettered"]


def test_sgml_and_tsv_of_the_same_pairs_give_the_same_statistics(tmp_path, shared_csc):
    # The shared TSV (pycorrector) and SGML (SIGHAN 2015) are both simplified but not identical: the SGML
    # has 3,174 blocks (duplicates included), the TSV 2,338 lines, and some TSV lines apply only part of
    # the SGML corrections. Compare on the sentences both hold with the same correction.
    sgml_text = open(os.path.join(shared_csc, "sighan15_train.sgml"), encoding="utf-8").read()
    blocks = re.findall(r"<SENTENCE>.*?</SENTENCE>", sgml_text, re.S)
    tsv = set(tsv_pairs(os.path.join(shared_csc, "sighan15_train.tsv")))
    kept_blocks, kept_pairs = [], []
    for block in blocks:
        pairs, bad = sgml_pairs_from_text(block)
        if not bad and pairs[0] in tsv:
            kept_blocks.append(block)
            kept_pairs.append(pairs[0])
    assert len(kept_pairs) > 2000
    (tmp_path / "same.sgml").write_text("\n".join(kept_blocks) + "\n", encoding="utf-8")
    (tmp_path / "same.tsv").write_text("".join(f"{w}\t{c}\n" for w, c in kept_pairs), encoding="utf-8")
    from_sgml = run_job(tmp_path, "from_sgml", input=str(tmp_path / "same.sgml"))
    from_tsv = run_job(tmp_path, "from_tsv", input=str(tmp_path / "same.tsv"))
    for name in ("char_stats", "confusion_pairs"):  # FASPell's partial corrections are seeded by the pair's text
        assert table(from_sgml, name) == table(from_tsv, name)


def test_traditional_input_with_t2s_gives_the_simplified_statistics(tmp_path):
    (tmp_path / "trad.tsv").write_text("我們再學校\t我們在學校\n他門說話\t他們說話\n", encoding="utf-8")
    (tmp_path / "simp.tsv").write_text("我们再学校\t我们在学校\n他门说话\t他们说话\n", encoding="utf-8")
    converted = run_job(tmp_path, "trad", input=str(tmp_path / "trad.tsv"), traditional_to_simplified=True)
    simplified = run_job(tmp_path, "simp", input=str(tmp_path / "simp.tsv"))
    assert table(converted, "char_stats") == table(simplified, "char_stats")
    assert table(converted, "confusion_pairs") == table(simplified, "confusion_pairs")


# ---- FASPell's mask probabilities on a hand-checked example -----------------------------------------

FASPELL_EXAMPLE = [
    ("我再家", "我在家"),                    # 在 -> 再
    ("他再学校", "他在学校"),                # 在 -> 再
    ("再见，再见，再见，再见", "再见，再见，再见，再见"),  # 再 unchanged 4 times
    ("我门", "我们"),                        # 们 -> 门
    ("门口", "门口"),                        # 门 unchanged once
    ("他门和我门", "他们和我们"),            # 们 -> 门 twice (FASPell adds one partly corrected copy)
    ("大门口的门", "大门口的门"),            # 门 unchanged twice
    ("我在在", "我再在"),                    # 再 -> 在
]
# By hand, following create_data.py: top confusion (keyed by the wrong character) 再: 2, 门: 3, 在: 1.
# Unchanged counts over FASPell's written text (pairs + correct/correct copies + partial copies):
#   再: 4 (pair 3) + 1 (copy of pair 8) = 5          -> 2/5
#   门: 1 (pair 5) + 2 (pair 7) = 3; copies hold 们   -> 3/3
#   在: 1 (pair 8) + copies of pairs 1, 2, 8 = 4      -> 1/4
FASPELL_AUGMENTED = {"再": 0.4, "门": 1.0, "在": 0.25}
# Counting unchanged positions in the input pairs only: 再 4, 门 3, 在 1.
FASPELL_PAIRS_ONLY = {"再": 0.5, "门": 1.0, "在": 1.0}


@pytest.mark.parametrize("counting, expected", [("augmented", FASPELL_AUGMENTED), ("pairs", FASPELL_PAIRS_ONLY)])
def test_mask_probability_sav_has_faspells_values(tmp_path, counting, expected):
    path = tmp_path / "faspell.txt"
    path.write_text("".join(f"{i}\t{w}\t{c}\n" for i, (w, c) in enumerate(FASPELL_EXAMPLE)), encoding="utf-8")
    output = run_job(tmp_path, counting, input=str(path), faspell_counting=counting)
    with open(os.path.join(output, "mask_probability.sav"), "rb") as handle:
        loaded = pickle.load(handle)
    assert type(loaded) is dict
    assert all(type(k) is str and type(v) is float for k, v in loaded.items())
    assert loaded == pytest.approx(expected) and set(loaded) == set(expected)
    rows = {row["char"]: row for row in table(output, "mask_probability")}
    # smoothed: (errors + alpha*r0) / (count + alpha), r0 = 6 substitutions / 35 correct characters
    assert rows["在"]["smoothed_probability"] == pytest.approx((2 + 10 * 6 / 35) / (3 + 10))
    assert rows["口"]["faspell_probability"] is None
    assert rows["口"]["smoothed_probability"] == pytest.approx((0 + 10 * 6 / 35) / (2 + 10))


# ---- outputs, dead letters, accounting ------------------------------------------------------------------

def test_outputs_tables_and_dead_letters(tmp_path):
    corpus = tmp_path / "pairs.tsv"
    corpus.write_text("我再家\t我在家\n他再学校看书\t他在学校看书\n只有一列\n完全不一样\t今天天气很好\n"
                      "清天\t晴天\n我门\t我们\n", encoding="utf-8")
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("[PAD]\n[UNK]\n在\n再\n##载\n晴\n情\n请\n精\n们\n门\n闷\nhello\n", encoding="utf-8")
    output = run_job(tmp_path, "out", input=str(corpus), vocab=str(vocab), sources="phonetic,glyph,observed",
                     top_k=5)
    for name in ("char_stats", "confusion_pairs", "confusion_sets", "mask_probability"):
        assert os.path.exists(os.path.join(output, name + ".tsv"))
        header = open(os.path.join(output, name + ".tsv"), encoding="utf-8").readline().rstrip("\n").split("\t")
        assert header == [column for column, _ in mask_probs_tables.TABLE_COLUMNS[name]]
    assert os.path.exists(os.path.join(output, "_COMPLETE"))
    sets = table(output, "confusion_sets")
    assert set(sets[0]) >= {"char", "candidate", "score", "source", "rank"}
    by_char = {}
    for row in sets:
        by_char.setdefault(row["char"], []).append(row)
    for rows in by_char.values():
        assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1)) and len(rows) <= 5
        assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    assert "载" in by_char  # vocabulary characters join the universe
    assert by_char["在"][0]["candidate"] == "再" and "observed" in by_char["在"][0]["source"]
    assert "清" in [r["candidate"] for r in by_char["晴"]]
    mask_chars = {row["char"] for row in table(output, "mask_probability")}
    assert {"载", "闷", "在", "天"} <= mask_chars and "hello" not in mask_chars
    counts = info(output)["counts"]
    assert counts == {**counts, "read": 6, "written": 4, "dead_lettered": 2}
    with open(os.path.join(output, "dead_letters", "dead_letters-00000-of-00001.jsonl"), encoding="utf-8") as handle:
        letters = [json.loads(line) for line in handle]
    assert sorted((letter["line"], letter["reason"].split(":")[0]) for letter in letters) == [
        (3, "bad TSV line"), (4, "edit rate over threshold")]


def test_line_aligned_files_and_a_one_line_error_for_an_existing_output(tmp_path, capsys):
    (tmp_path / "correct.txt").write_text("我在家\n他们在学校\n", encoding="utf-8")
    (tmp_path / "wrong.txt").write_text("我再家\n他门在学校\n", encoding="utf-8")
    argv = ["mask-probs", "--correct", str(tmp_path / "correct.txt"), "--wrong", str(tmp_path / "wrong.txt"),
            "--output", str(tmp_path / "out"), "--sources", "observed"]
    assert cli.main(argv) == 0
    pairs = {(r["correct"], r["wrong"]): r["count"] for r in table(str(tmp_path / "out"), "confusion_pairs")}
    assert pairs == {("在", "再"): 1, ("们", "门"): 1}
    capsys.readouterr()
    assert cli.main(argv) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "already holds a complete output" in error[0]


def test_help_documents_the_options(capsys):
    with pytest.raises(SystemExit):
        cli.main(["mask-probs", "--help"])
    text = capsys.readouterr().out
    for option in ("--input", "--correct", "--wrong", "--vocab", "--format", "--traditional-to-simplified",
                   "--max-edit-rate", "--alpha", "--faspell-counting", "--sources", "--top-k", "--confusion-file",
                   "--confusion-file-format", "mask_probability.sav", "confusion_sets"):
        assert option in text
    # Every ranking knob is a named option with its own help (the former --weights NAME=VALUE string is gone).
    ranking = text[text.index("confusion-set ranking:"):]
    for name in confusion.ConfusionOptions.__dataclass_fields__:
        help_text = MaskProbsOptions.command_option(name).spec.help
        option = "--" + name.replace("_", "-")
        assert option in ranking and " ".join(help_text.split()[:4]) in " ".join(ranking.split())
    assert "--weights" not in text


# ---- external confusion sets ----------------------------------------------------------------------------

CSC_PAIRS = ("我再家\t我在家\n他再学校看书\t他在学校看书\n清天\t晴天\n我门\t我们\n"
             "他门来了\t他们来了\n再见了\t在见了\n")


def _rows_by_char(output):
    rows = {}
    for row in table(output, "confusion_sets"):
        rows.setdefault(row["char"], []).append(row)
    return rows


def test_a_confusion_file_adds_its_source_and_changes_only_the_characters_it_lists(tmp_path):
    corpus = tmp_path / "pairs.tsv"
    corpus.write_text(CSC_PAIRS, encoding="utf-8")
    (tmp_path / "wang.txt").write_text("在:实再\n这是一行坏的\n", encoding="utf-8")
    options = dict(input=str(corpus), sources="phonetic,glyph,observed", top_k=40)
    plain = run_job(tmp_path, "plain", **options)
    extended = run_job(tmp_path, "extended", confusion_file=str(tmp_path / "wang.txt"), **options)
    for name in ("char_stats", "confusion_pairs", "mask_probability"):
        assert table(plain, name) == table(extended, name), name
    assert load_sav(plain) == load_sav(extended)
    plain_rows, extended_rows = _rows_by_char(plain), _rows_by_char(extended)
    assert set(plain_rows) == set(extended_rows) and "在" in plain_rows
    assert [c for c in plain_rows if plain_rows[c] != extended_rows[c]] == ["在"]
    by_candidate = {row["candidate"]: row for row in extended_rows["在"]}
    assert "实" not in {row["candidate"] for row in plain_rows["在"]}  # no pinyin or glyph link to 在
    assert by_candidate["实"]["source"] == "external:wang.txt"
    assert by_candidate["再"]["source"].endswith("+observed+external:wang.txt")
    # Formats kept: the same columns in the TSV headers and the same pickle type.
    for name, columns in mask_probs_tables.TABLE_COLUMNS.items():
        header = open(os.path.join(extended, name + ".tsv"), encoding="utf-8").readline().rstrip("\n").split("\t")
        assert header == [column for column, _ in columns]
    job = info(extended)
    assert job["confusion_files"] == [{"path": str(tmp_path / "wang.txt"), "source": "external:wang.txt",
                                       "format": "auto"}]
    assert job["stats"]["confusion_files"] == {"external:wang.txt": {"characters": 1, "candidates": 2,
                                                                     "mean_candidates": 2.0}}
    assert "ranker.external:wang.txt.member" in job["stats"]["confusion_mixture"]
    counts = job["counts"]
    assert counts == {**counts, "read": 6 + 2, "written": 6, "confusion_lines_used": 1, "dead_lettered": 1}
    with open(os.path.join(extended, "dead_letters", "dead_letters-00000-of-00001.jsonl"), encoding="utf-8") as handle:
        letters = [json.loads(line) for line in handle]
    assert [(letter["source"], letter["line"]) for letter in letters] == [(str(tmp_path / "wang.txt"), 2)]
    assert letters[0]["reason"].startswith("bad confusion-set line: no colon separator")


def load_sav(output):
    with open(os.path.join(output, "mask_probability.sav"), "rb") as handle:
        loaded = pickle.load(handle)
    assert type(loaded) is dict and all(type(k) is str and type(v) is float for k, v in loaded.items())
    return loaded


@pytest.mark.parametrize("extra, message", [
    (["--confusion-file", "{tmp}/odd.txt"], "odd.txt line 2: cannot tell the confusion-file layout"),
    (["--confusion-file", "{tmp}/a/same.txt", "--confusion-file", "{tmp}/b/same.txt"],
     "two confusion files are named 'same.txt'"),
    (["--confusion-file", "{tmp}/a/same.txt", "--no-ranker"], "--confusion-file needs the learned ranker"),
    (["--ranker-l2", "-1"], "--ranker-l2 is -1; it cannot be negative"),
])
def test_confusion_option_errors_are_one_line(tmp_path, capsys, extra, message):
    (tmp_path / "pairs.tsv").write_text(CSC_PAIRS, encoding="utf-8")
    (tmp_path / "odd.txt").write_text("在|再\n是|事\n", encoding="utf-8")
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "same.txt").write_text("在:再\n", encoding="utf-8")
    argv = ["mask-probs", "--input", str(tmp_path / "pairs.tsv"), "--output", str(tmp_path / "out"),
            "--sources", "observed"] + [item.format(tmp=tmp_path) for item in extra]
    assert cli.main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    error = [line for line in lines if not line.startswith("bertprep: ") or "error" in line]  # progress aside
    assert len(error) == 1 and error[0].startswith("bertprep: error: ") and message in error[0], lines


def test_confusion_files_from_repeated_options_or_a_jobs_file_list(tmp_path):
    from bertprep.service import catalog

    import argparse

    parser = argparse.ArgumentParser(allow_abbrev=False)
    catalog.options_class("mask-probs").add_arguments(parser)
    argv = catalog.args_to_argv("mask-probs", {"input": "pairs.tsv", "confusion-file": ["wang.txt", "same_pinyin.txt"],
                                               "confusion_file_format": "auto", "mean-set-size": 15, "ranker": False})
    assert argv == ["--input=pairs.tsv", "--confusion-file=wang.txt,same_pinyin.txt",
                    "--confusion-file-format=auto", "--mean-set-size=15", "--no-ranker"]
    args = parser.parse_args(argv + ["--output", "out"])
    assert args.confusion_file == "wang.txt,same_pinyin.txt" and args.mean_set_size == 15.0
    assert args.ranker is False
    repeated = parser.parse_args(["--confusion-file", "wang.txt", "--confusion-file", "same_pinyin.txt",
                                  "--output", "out"])
    assert repeated.confusion_file == args.confusion_file
    for name in ("wang.txt", "same_pinyin.txt"):
        (tmp_path / name).write_text("在:再\n", encoding="utf-8")
    options = MaskProbsOptions(input="pairs.tsv", output="out",
                               confusion_file="%s,%s" % (tmp_path / "wang.txt", tmp_path / "same_pinyin.txt"))
    assert [name for _, _, name in mask_probs.confusion_file_sources(options)] == [
        "external:wang.txt", "external:same_pinyin.txt"]


@pytest.mark.parametrize("values, message", [
    ({}, "give --input FILES, or --correct FILE --wrong FILE"),
    ({"correct": "c.txt"}, "--correct and --wrong go together"),
    ({"input": "p.tsv", "wrong": "w.txt"}, "--correct and --wrong go together"),
    ({"input": "p.tsv", "sources": "phonetic,sound"}, "bad --sources 'phonetic,sound'"),
    ({"input": "p.tsv", "ranker_l2": -1.0}, "--ranker-l2 is -1; it cannot be negative"),
    ({"input": "p.tsv", "min_set_size": 9, "max_set_size": 4}, "--min-set-size 9 is larger than --max-set-size 4"),
    ({"input": "p.tsv", "confusion_file": "wang.txt", "ranker": False}, "--confusion-file needs the learned ranker"),
])
def test_options_are_checked_once_when_made(values, message):
    """Every check the job's options need runs in MaskProbsOptions itself: one line naming the option."""
    from bertprep.errors import BertprepError

    with pytest.raises(BertprepError) as raised:
        MaskProbsOptions(output="out", **values)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_options_give_the_ranking_options_and_take_either_input():
    options = MaskProbsOptions(output="out", correct="c.txt", wrong="w.txt", mean_set_size=15.0, ranker=False,
                               mixture_near_limit=7)
    ranking = options.ranking_options()
    assert isinstance(ranking, confusion.ConfusionOptions)
    assert (ranking.mean_set_size, ranking.ranker, ranking.mixture_near_limit) == (15.0, False, 7)
    assert MaskProbsOptions(output="out", input="p.tsv").ranking_options() == confusion.ConfusionOptions()


def test_missing_inputs_fail_before_the_output_directory_is_made(tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["mask-probs", "--output", str(out), "--correct", str(tmp_path / "c.txt")]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "bertprep: error: --correct and --wrong go together (two line-aligned files)"]
    assert not out.exists()
