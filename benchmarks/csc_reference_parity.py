"""Confusion-aware masking against the systems it stands in for, run side by side from fetched copies.

    python benchmarks/csc_reference_parity.py plome   --plome /path/to/PLOME
    python benchmarks/csc_reference_parity.py mix     [--confusion-sets MASK_PROBS_DIR]
    python benchmarks/csc_reference_parity.py faspell --faspell /path/to/FASPell

The reference code is not part of bertprep: give a checkout of liushulinle/PLOME or iqiyi/FASPell (or set
PLOME_DIR / FASPELL_DIR). It is imported and run as it is; this script only feeds it our shared data and
counts what it does (FASPell is GPL-3.0: it runs in its own process, nothing of it is copied here).

plome: PLOME's pre_train_src/mask.py (its ConfusionSet loaders and Mask.mask_process) on the first 2,200 lines
of the shared People's Daily corpus, each line tokenized with the zh vocabulary (BERT's FullTokenizer, as
PLOME's tokenization.py) into `[CLS] tokens [SEP]` of at most 128 (`--passes` passes, Python's random seeded
12345), beside `bertprep pretraining --confusion-masking plome` on the same lines and PLOME's three files.
The kind of each prediction is read by wrapping Mask.get_mask_method and the confusion sets' look-up
(a drawn kind whose look-up gives None is a dropped position, as mask.py drops it).

mix: `bertprep pretraining --confusion-sets` (default mix) with the confusion sets of `bertprep mask-probs
--input sighan15_train.tsv --vocab zh_vocab.txt` (made here unless given), on the same lines.

faspell: FASPell's bert_modified/create_data.py and create_tf_record.py (run in a subprocess with TensorFlow's
v1 API, faspell_records.py) on the shared SIGHAN pairs with a mask_probability.sav from `bertprep mask-probs`,
beside `bertprep pretraining --wrong-input` on the same pairs and .sav, with --wrong-input-instances faspell
and with pairs (fed FASPell's own documents); counts instances, predictions per instance, and the shares of
error positions, kept, [MASK] and random predictions (dupe factor 1 everywhere).
"""
import argparse
import collections
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import types

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)
SHARED = os.environ.get("BERTPREP_SHARED", os.path.join(ROOT, "..", "shared"))
CORPUS = os.path.join(SHARED, "data", "corpus", "zh_peopledaily_docs.txt")
VOCAB = os.path.join(SHARED, "data", "vocab", "zh_vocab.txt")
PLOME_FILES = os.path.join(SHARED, "data", "csc", "plome")
SIGHAN_TSV = os.path.join(SHARED, "data", "csc", "sighan15_train.tsv")
LINES, MAX_SEQ_LENGTH, SEED = 2200, 128, 12345
KINDS = ("same_pinyin", "similar_pinyin", "glyph", "random", "keep", "mask")
PLOME_KIND = {"pinyin": "same_pinyin", "jinyin": "similar_pinyin", "stroke": "glyph", "random": "random",
              "keep": "keep"}


def corpus_head(directory: str) -> str:
    path = os.path.join(directory, "corpus_head.txt")
    with open(CORPUS, encoding="utf-8") as reader, open(path, "w", encoding="utf-8") as writer:
        for _ in range(LINES):
            writer.write(next(reader))
    return path


def shares(counts: dict) -> dict:
    total = sum(counts.get(kind, 0) for kind in KINDS)
    return {kind: round(100.0 * counts.get(kind, 0) / total, 2) for kind in KINDS if total}


# ------------------------------------------------------------------------------------------ PLOME

def run_plome(plome_dir: str, head: str, passes: int) -> dict:
    from bertprep.transforms.tokenization.tokenizer import load_tokenizer
    from bertprep.transforms.tokenization.wordpiece import is_cjk_char

    sys.modules.setdefault("tokenization", types.ModuleType("tokenization"))  # mask.py imports it, unused there
    sys.path.insert(0, os.path.join(plome_dir, "pre_train_src"))
    import mask as plome_mask  # PLOME's own module

    tokenizer = load_tokenizer(VOCAB, lower=True)
    holder = types.SimpleNamespace(vocab=tokenizer.vocab)  # all ConfusionSet and Mask read of a tokenizer
    same = plome_mask.PinyinConfusionSet(holder, os.path.join(PLOME_FILES, "same_pinyin.txt"))
    similar = plome_mask.PinyinConfusionSet(holder, os.path.join(PLOME_FILES, "simi_pinyin.txt"))
    stroke = plome_mask.StrokeConfusionSet(holder, os.path.join(PLOME_FILES, "same_stroke.txt"))
    masker = plome_mask.Mask(same, similar, stroke, {}, {})
    drawn = []  # (kind, given) per masked position, in mask_process's order
    method = masker.get_mask_method

    def recording_method():
        kind = method()
        drawn.append([PLOME_KIND[kind], kind in ("random", "keep")])
        return kind
    masker.get_mask_method = recording_method
    for confusion_set in (same, similar, stroke):
        lookup = confusion_set.get_confusion_item_by_ids

        def recording_lookup(token_id, lookup=lookup):
            found = lookup(token_id)
            drawn[-1][1] = found is not None
            return found
        confusion_set.get_confusion_item_by_ids = recording_lookup

    random.seed(SEED)
    cls, sep = tokenizer.vocab["[CLS]"], tokenizer.vocab["[SEP]"]
    id_to_token = {index: token for token, index in tokenizer.vocab.items()}
    counts, dropped = collections.Counter(), collections.Counter()
    real = body = predicted = non_cjk_tokens = non_cjk_predicted = 0
    started = time.time()
    for _ in range(passes):
        with open(head, encoding="utf-8") as handle:
            for line in handle:
                tokens = tokenizer.tokenize(line.strip())
                if len(tokens) < 2:  # PLOME's DataProcessor.sample skips these
                    continue
                ids = [cls] + tokenizer.convert_tokens_to_ids(tokens[:MAX_SEQ_LENGTH - 2]) + [sep]
                del drawn[:]
                _, flags, _, _ = masker.mask_process(ids)
                real += len(ids)
                body += len(ids) - 2
                for kind, given in drawn:
                    (counts if given else dropped)[kind] += 1
                for token_id, flag in zip(ids[1:-1], flags[1:-1]):
                    cjk = is_cjk_char(id_to_token[token_id])
                    non_cjk_tokens += not cjk
                    non_cjk_predicted += bool(flag) and not cjk
                    predicted += bool(flag)
    assert predicted == sum(counts.values()), (predicted, counts)
    return {"system": "PLOME mask.py", "passes": passes, "seconds": round(time.time() - started, 1),
            "predicted_per_real_token": round(100.0 * predicted / real, 2), "shares": shares(counts),
            "dropped": dict(dropped), "non_cjk_token_share": round(100.0 * non_cjk_tokens / body, 2),
            "non_cjk_predictions": non_cjk_predicted}


# ------------------------------------------------------------------------------------------ bertprep

def bertprep(*args) -> None:
    command = [sys.executable, "-m", "bertprep", *args]
    done = subprocess.run(command, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True,
                          text=True)
    if done.returncode:
        raise SystemExit("failed: %s\n%s" % (" ".join(command), done.stderr[-3000:]))


def run_bertprep_pretraining(head: str, directory: str, name: str, passes: int, *options) -> dict:
    output = os.path.join(directory, name)
    started = time.time()
    bertprep("pretraining", "--input", head, "--vocab", VOCAB, "--output", output, "--workers", "1",
             "--dupe-factor", str(passes), "--seed", str(SEED), *options)
    with open(os.path.join(output, "info.json"), encoding="utf-8") as handle:
        info = json.load(handle)
    stats = info["stats"]
    realized = stats.get("confusion_mix_realized", {})
    lengths = stats["sequence_length_histogram"]
    real = sum(int(length) * n for length, n in lengths.items())
    return {"system": "bertprep " + name, "passes": passes, "seconds": round(time.time() - started, 1),
            "predicted_per_real_token": round(100.0 * sum(realized.values()) / real, 2),
            "shares": shares(realized), "dropped": stats.get("confusion_mix_shortfall", {}),
            "warnings": [warning["message"] for warning in info.get("warnings", [])]}


def plome_files_option() -> str:
    return ",".join("%s=%s" % (kind, os.path.join(PLOME_FILES, name)) for kind, name in (
        ("same_pinyin", "same_pinyin.txt"), ("similar_pinyin", "simi_pinyin.txt"), ("glyph", "same_stroke.txt")))


def mask_probs_sets(directory: str) -> str:
    output = os.path.join(directory, "mask_probs")
    bertprep("mask-probs", "--input", SIGHAN_TSV, "--vocab", VOCAB, "--output", output, "--workers", "1")
    return output


# ------------------------------------------------------------------------------------------ FASPell

def run_faspell(faspell_dir: str, directory: str, sets: str, pairs: int) -> list:
    """FASPell's create_data.py + create_tf_record.py (faspell_records.py, a subprocess), then bertprep on the
    same files: FASPell's documents whose sentences are all correct as --input, its other sentence pairs as
    --wrong-input, bertprep's .sav as --mask-probability; dupe factor 1 on both sides."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "faspell_records.py")
    work = os.path.join(directory, "faspell")
    os.makedirs(work)
    sav = os.path.join(sets, "mask_probability.sav")
    done = subprocess.run([sys.executable, script, faspell_dir, SIGHAN_TSV, str(pairs), sav, VOCAB, work],
                          capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=ROOT))
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    results = [json.loads(done.stdout.strip().splitlines()[-1])]
    documents, pair_lines = split_faspell_files(work)
    one = os.path.join(work, "one_document.txt")
    for name, inputs, wrong, mode in (
            ("faspell, the SIGHAN pairs", one, SIGHAN_TSV, "faspell"),
            ("pairs, FASPell's error-free documents + its other sentence pairs", documents, pair_lines, "pairs"),
            ("pairs, FASPell's sentence pairs with an error only", one, pair_lines, "pairs")):
        output = os.path.join(directory, "faspell_%d" % len(results))
        bertprep("pretraining", "--input", inputs, "--wrong-input", wrong, "--wrong-input-instances", mode,
                 "--mask-probability", sav, "--vocab", VOCAB, "--output", output, "--dupe-factor", "1",
                 "--workers", "1", "--seed", str(SEED))
        with open(os.path.join(output, "info.json"), encoding="utf-8") as handle:
            info = json.load(handle)
        kinds = info["stats"]["masked_position_kinds"]
        predictions = sum(kinds.values())
        results.append({"system": "bertprep --wrong-input-instances " + name,
                        "instances": info["counts"]["records_out"],
                        "predictions_per_instance": round(info["stats"]["mean_predictions_per_instance"], 3),
                        "shares": {kind: round(100.0 * n / predictions, 2) for kind, n in kinds.items() if n}})
    return results


def split_faspell_files(work: str) -> tuple:
    """FASPell's correct.txt/wrong.txt (documents of aligned sentences) → a documents file of the documents
    without an error and a wrong<TAB>correct file of the other documents' sentences."""
    def blocks():
        block = []
        with open(os.path.join(work, "wrong.txt"), encoding="utf-8") as wrong, \
                open(os.path.join(work, "correct.txt"), encoding="utf-8") as correct:
            for wrong_line, correct_line in zip(wrong, correct):
                if not wrong_line.strip() and not correct_line.strip():
                    if block:
                        yield block
                    block = []
                else:
                    block.append((wrong_line.strip(), correct_line.strip()))
        if block:
            yield block
    documents, pairs = os.path.join(work, "documents.txt"), os.path.join(work, "pairs.tsv")
    with open(documents, "w", encoding="utf-8") as doc_file, open(pairs, "w", encoding="utf-8") as pair_file:
        for block in blocks():
            if all(wrong == correct for wrong, correct in block):
                doc_file.write("".join(correct + "\n" for _, correct in block) + "\n")
            else:
                pair_file.write("".join("%s\t%s\n" % pair for pair in block))
    with open(os.path.join(work, "one_document.txt"), "w", encoding="utf-8") as handle:
        handle.write("一个句子。\n另一个句子。\n")
    return documents, pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("plome", "mix", "faspell"))
    parser.add_argument("--plome", default=os.environ.get("PLOME_DIR"), help="a checkout of liushulinle/PLOME")
    parser.add_argument("--faspell", default=os.environ.get("FASPELL_DIR"), help="a checkout of iqiyi/FASPell")
    parser.add_argument("--confusion-sets", help="a mask-probs output of sighan15_train.tsv (made if not given)")
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--pairs", type=int, default=2338, help="SIGHAN pairs for the faspell comparison")
    args = parser.parse_args()
    with open("/proc/loadavg") as handle:
        print("load average:", handle.read().split()[:3])
    with tempfile.TemporaryDirectory() as directory:
        head = corpus_head(directory)
        results = []
        if args.what == "plome":
            if not args.plome:
                raise SystemExit("give --plome PATH (a checkout of liushulinle/PLOME) or set PLOME_DIR")
            results.append(run_plome(args.plome, head, args.passes))
            results.append(run_bertprep_pretraining(head, directory, "plome", args.passes, "--confusion-masking",
                                                    "plome", "--confusion-sets", plome_files_option()))
        elif args.what == "mix":
            sets = args.confusion_sets or mask_probs_sets(directory)
            results.append(run_bertprep_pretraining(head, directory, "mix", args.passes, "--confusion-sets", sets))
        else:
            if not args.faspell:
                raise SystemExit("give --faspell PATH (a checkout of iqiyi/FASPell) or set FASPELL_DIR")
            sets = args.confusion_sets or mask_probs_sets(directory)
            results.extend(run_faspell(args.faspell, directory, sets, args.pairs))
        for result in results:
            print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
