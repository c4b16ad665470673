"""Tokenization speed: bertprep's WordPiece against HF `tokenizers`, side by side in one run.

Why this exists: bertprep once shipped an HF `tokenizers` backend (routed to our code on the characters
where it differs from the reference); it was removed because it was slower per core everywhere we
measured. This script keeps the evidence and lets anyone re-check on their machine.

Prints lines/s and MB/s (CPU seconds of this process, and wall seconds) for
- bertprep: `load_tokenizer` (reference-exact; per-character tables and a word cache),
- raw HF:   HF tokenizers' BERT pipeline (BertNormalizer + BertPreTokenizer + WordPiece), single-threaded
            (TOKENIZERS_PARALLELISM=false) as one Beam worker process per core would run it; --threads
            lets it use every core,
and how many lines HF tokenizes differently from the reference. Each tokenizer starts cold (fresh caches);
the best of --repeats passes is shown too. Needs `tokenizers` (pip install tokenizers) for the HF line.

    .venv/bin/python benchmarks/bench_tokenize.py [--input FILE --vocab FILE] [--repeats 3]
"""
import argparse
import os
import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHARED = pathlib.Path(os.environ.get("BERTPREP_SHARED", ROOT.parent / "shared"))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", default=str(SHARED / "data" / "corpus" / "zh_peopledaily_docs.txt"))
    parser.add_argument("--vocab", default=str(SHARED / "data" / "vocab" / "zh_vocab.txt"))
    parser.add_argument("--no-lower", dest="lower", action="store_false")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=2048, help="lines per tokenize_batch call")
    parser.add_argument("--threads", action="store_true", help="let HF tokenizers use all cores")
    return parser.parse_args()


def timed(function):
    cpu, wall = time.process_time(), time.perf_counter()
    result = function()
    return result, time.process_time() - cpu, time.perf_counter() - wall


def hf_bert_tokenizer(vocabulary, lower):
    """HF tokenizers' BERT WordPiece pipeline with our vocabulary and no special tokens added."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    tokenizer = Tokenizer(models.WordPiece(dict(vocabulary.token_to_id), unk_token="[UNK]",
                                           max_input_chars_per_word=200, continuing_subword_prefix="##"))
    tokenizer.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                                      strip_accents=lower, lowercase=lower)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return tokenizer


def main():
    args = parse_args()
    if not args.threads:
        os.environ["TOKENIZERS_PARALLELISM"] = "false"
    sys.path.insert(0, str(ROOT))
    from bertprep.transforms.tokenization.tokenizer import load_tokenizer

    with open(args.input, encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    megabytes = sum(len(line.encode("utf-8")) + 1 for line in lines) / 1e6
    batches = [lines[i:i + args.batch] for i in range(0, len(lines), args.batch)]
    print(f"{args.input}: {len(lines):,} lines, {megabytes:.2f} MB; vocab {args.vocab}; lower={args.lower}; "
          f"batches of {args.batch}; HF threads: {'all' if args.threads else 1}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    results = {}
    for name in ("bertprep", "raw HF"):
        tokenizer = load_tokenizer(vocab=args.vocab, lower=args.lower)
        if name == "raw HF":
            try:
                hf = hf_bert_tokenizer(tokenizer.vocabulary, args.lower)
            except ImportError:
                print("raw HF    skipped: tokenizers is not installed")
                continue

            def run():
                return [encoding.tokens for batch in batches
                        for encoding in hf.encode_batch(batch, add_special_tokens=False)]
        else:

            def run():
                return [tokens for batch in batches for tokens in tokenizer.tokenize_batch(batch)]

        passes = [timed(run) for _ in range(max(1, args.repeats))]
        results[name] = passes[0][0]
        first_cpu, first_wall = passes[0][1], passes[0][2]
        best_cpu = min(cpu for _, cpu, _ in passes)
        best_wall = min(wall for _, _, wall in passes)
        first = f"{len(lines) / first_cpu:9,.0f} lines/s {megabytes / first_cpu:6.2f} MB/s (CPU), wall {first_wall:6.2f} s"
        best = f"{len(lines) / best_cpu:9,.0f} lines/s {megabytes / best_cpu:6.2f} MB/s (CPU), wall {best_wall:6.2f} s"
        print(f"{name:9s} first pass {first} | best {best}")
    if "raw HF" in results:
        differ = sum(1 for a, b in zip(results["bertprep"], results["raw HF"]) if a != b)
        print(f"raw HF differs from the reference (bertprep) on {differ:,} lines")


if __name__ == "__main__":
    main()
