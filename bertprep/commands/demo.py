"""`bertprep demo`: the main job end to end on a corpus and vocabulary that ship inside the package.

The corpus (`bertprep/data/demo_corpus_zh.txt`) is a small set of Chinese documents written for this
project. The vocabulary is built from it at run time (special tokens, ASCII characters with their `##`
forms, then every corpus character in order of first appearance), so the demo needs no download.
"""
import os
import string
import sys
import time

COMMAND = "demo"
HELP = "run the pretraining job on the bundled Chinese corpus with a vocabulary built from it"

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def demo_corpus_path() -> str:
    return os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "demo_corpus_zh.txt")


def build_vocabulary(corpus_path: str) -> list:
    """Special tokens, ASCII characters (alone and as `##` continuations), then the corpus characters."""
    tokens = list(SPECIAL_TOKENS)
    ascii_characters = string.digits + string.ascii_lowercase + string.punctuation
    tokens += list(ascii_characters)
    tokens += ["##" + character for character in string.digits + string.ascii_lowercase]
    seen = set(tokens)
    with open(corpus_path, encoding="utf-8") as handle:
        for line in handle:
            for character in line.strip():
                if not character.isspace() and character not in seen:
                    seen.add(character)
                    tokens.append(character)
    return tokens


def add_arguments(parser):
    parser.add_argument("--output", default="demo_output", help="directory for the vocabulary and the records")
    parser.add_argument("--workers", type=int, default=1, help="local worker processes")
    parser.add_argument("--dupe-factor", type=int, default=5, help="passes over the corpus with different masks")
    parser.add_argument("--max-seq-length", type=int, default=64, help="tokens per instance")


def _run_pretraining(argv) -> None:
    """`bertprep pretraining ARGV`, called in this process through the command's own parser and run."""
    import argparse

    from bertprep.commands import pretraining as pretraining_command

    parser = argparse.ArgumentParser(prog="bertprep pretraining", allow_abbrev=False)
    pretraining_command.add_arguments(parser)
    args = parser.parse_args(argv)
    args.beam_args = []
    pretraining_command.run(args)


def run(args) -> int:
    from bertprep.io import fs
    from bertprep.io import output as output_lib
    from bertprep.commands import inspect as inspect_command

    vocab_path = fs.join(args.output, "vocab.txt")
    fs.write_bytes(vocab_path, ("\n".join(build_vocabulary(demo_corpus_path())) + "\n").encode("utf-8"))
    records_dir = fs.join(args.output, "pretraining")
    started = time.time()
    _run_pretraining([
        "--input", demo_corpus_path(), "--vocab", vocab_path, "--output", records_dir,
        "--max-seq-length", str(args.max_seq_length), "--max-predictions-per-seq", "10",
        "--dupe-factor", str(args.dupe_factor), "--workers", str(args.workers), "--overwrite",
    ])
    summary = inspect_command.inspect_directory(records_dir, examples=1)
    print()
    print("bertprep demo finished in %.1f s" % (time.time() - started))
    print("  corpus      %s" % demo_corpus_path())
    print("  vocabulary  %s" % vocab_path)
    print("  records     %s (%d pretraining instances, complete)" % (records_dir, summary["records"]))
    print("  info        %s" % fs.join(records_dir, output_lib.INFO_FILE))
    report = fs.join(records_dir, "report.html")
    if fs.exists(report):
        print("  report      %s" % report)
    example = summary["examples"][0] if summary["examples"] else None
    if example:
        print("  first record: %d real tokens, %d predictions, next_sentence_label=%d"
              % (sum(example["input_mask"]), int(sum(example["masked_lm_weights"])),
                 example["next_sentence_labels"][0]))
    print("Check it any time with: bertprep inspect %s" % records_dir)
    sys.stdout.flush()
    return 0
