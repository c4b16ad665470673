"""Tokenization speed: pure-Python WordPiece against the compiled (HF tokenizers) path.

Prints lines/s and MB/s (CPU seconds of this process, and wall seconds) for
- python:   the default backend (reference code with per-character tables and a word cache),
- compiled: HF tokenizers for lines it handles exactly, pure Python for the rest (the routed backend),
- raw HF:   HF tokenizers alone, for comparison only (not always reference-exact),
on ../shared/data/corpus/zh_peopledaily_docs.txt with the Chinese vocabulary by default. Each
backend starts from a fresh tokenizer (cold caches) for its first pass; the best of --repeats passes
is shown too. HF runs single-threaded (TOKENIZERS_PARALLELISM=false) so figures are per core, as a
Beam worker process would use them; pass --threads to let it use every core.

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


def main():
    args = parse_args()
    if not args.threads:
        os.environ["TOKENIZERS_PARALLELISM"] = "false"
    sys.path.insert(0, str(ROOT))
    from bertprep.transforms.tokenization import load_tokenizer

    with open(args.input, encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    megabytes = sum(len(line.encode("utf-8")) + 1 for line in lines) / 1e6
    batches = [lines[i:i + args.batch] for i in range(0, len(lines), args.batch)]
    print(f"{args.input}: {len(lines):,} lines, {megabytes:.2f} MB; vocab {args.vocab}; lower={args.lower}; "
          f"batches of {args.batch}; HF threads: {'all' if args.threads else 1}")

    results = {}
    for backend in ("python", "compiled", "raw HF"):
        tokenizer = load_tokenizer(vocab=args.vocab, lower=args.lower,
                                   backend="compiled" if backend != "python" else "python")
        if backend == "raw HF":
            hf = tokenizer._compiled_backend().hf

            def run():
                return [encoding.tokens for batch in batches
                        for encoding in hf.encode_batch(batch, add_special_tokens=False)]
        else:

            def run():
                return [tokens for batch in batches for tokens in tokenizer.tokenize_batch(batch)]

        passes = [timed(run) for _ in range(max(1, args.repeats))]
        output = passes[0][0]
        first_cpu, first_wall = passes[0][1], passes[0][2]
        best_cpu = min(cpu for _, cpu, _ in passes)
        best_wall = min(wall for _, _, wall in passes)
        results[backend] = output
        note = ""
        if backend == "compiled":
            routed = tokenizer._compiled_backend()
            fallback = sum(1 for line in lines if not routed.is_exact(line))
            note = f"  ({fallback:,} lines routed to pure Python; characters HF gets wrong: " \
                   f"{''.join(sorted(routed.unsafe_chars))!r})"
        first = f"{len(lines) / first_cpu:9,.0f} lines/s {megabytes / first_cpu:6.2f} MB/s (CPU), wall {first_wall:6.2f} s"
        best = f"{len(lines) / best_cpu:9,.0f} lines/s {megabytes / best_cpu:6.2f} MB/s (CPU), wall {best_wall:6.2f} s"
        print(f"{backend:9s} first pass {first} | best {best}{note}")
    same = results["python"] == results["compiled"]
    raw_diff = sum(1 for a, b in zip(results["python"], results["raw HF"]) if a != b)
    print(f"python == compiled on every line: {same}; raw HF differs from the reference on {raw_diff:,} lines")


if __name__ == "__main__":
    main()
