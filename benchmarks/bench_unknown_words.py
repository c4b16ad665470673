"""What counting the words that became [UNK] costs the pretraining job's tokenization.

The pretraining job tokenizes each bucket's documents with `DocumentTokenizer.many`; with an
UnknownWordSample it also looks up, for up to 128 sentences holding an [UNK] a bucket, which words of
them the vocabulary lacks (for the data warnings). This script tokenizes the same documents, in
bucket-sized groups, without the sample, with the job's capped sample, and with an uncapped one,
alternating, in one process, and prints CPU seconds side by side (best of --repeats) with the share of
sentences that hold an [UNK].

    python benchmarks/bench_unknown_words.py [--corpus PATH] [--vocab PATH] [--no-lower] [--repeats 5]
"""
import argparse
import collections
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SHARED = os.environ.get("BERTPREP_SHARED", os.path.join(os.path.dirname(REPO), "shared"))
sys.path.insert(0, REPO)


def read_documents(path):
    documents, sentences = [], []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if line:
                sentences.append(line)
            elif sentences:
                documents.append(("d%d" % len(documents), sentences))
                sentences = []
    if sentences:
        documents.append(("d%d" % len(documents), sentences))
    return documents


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=os.path.join(SHARED, "data", "corpus", "zh_peopledaily_docs.txt"))
    parser.add_argument("--vocab", default=os.path.join(SHARED, "data", "vocab", "zh_vocab.txt"))
    parser.add_argument("--no-lower", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--bucket-documents", type=int, default=400, help="documents a bucket (the shared corpus "
                        "makes 13 buckets of about 390)")
    args = parser.parse_args()

    from bertprep.pipelines.pretraining import UNKNOWN_WORD_SENTENCES
    from bertprep.transforms.pretraining.instances import DocumentTokenizer
    from bertprep.transforms.tokenization.tokenizer import UnknownWordSample, load_tokenizer

    documents = read_documents(args.corpus)
    sentences = sum(len(s) for _, s in documents)
    buckets = [documents[k:k + args.bucket_documents] for k in range(0, len(documents), args.bucket_documents)]
    caps = {"plain": "none", "capped": UNKNOWN_WORD_SENTENCES, "uncapped": None}

    def tokenize_all(tokenizer, cap):
        samples = []
        for bucket in buckets:
            sample = None if cap == "none" else UnknownWordSample(tokenizer.tokenizer, cap)
            tokenizer.many(bucket, sample)
            samples.append(sample)
        return samples

    # One tokenizer per way, each warmed by a first pass, so each reads from filled caches as a job's
    # worker does after its first buckets.
    ways = {name: DocumentTokenizer(load_tokenizer(vocab=args.vocab, lower=not args.no_lower)) for name in caps}
    for name, tokenizer in ways.items():
        tokenize_all(tokenizer, caps[name])
    best = {name: float("inf") for name in ways}
    samples = {}
    for _ in range(args.repeats):
        for name, tokenizer in ways.items():
            started = time.process_time()
            samples[name] = tokenize_all(tokenizer, caps[name])
            best[name] = min(best[name], time.process_time() - started)
    unk_id = ways["plain"].tokenizer.unk_id
    with_unk = sum(unk_id in ids for document in ways["plain"].many(documents) for ids in document.sentences)
    print("corpus %s: %d documents in %d buckets, %d sentences; %d (%.1f%%) hold an [UNK]"
          % (os.path.basename(args.corpus), len(documents), len(buckets), sentences, with_unk,
             100.0 * with_unk / max(1, sentences)))
    print("best of %d, CPU seconds: no sample %.3f | capped sample (%d a bucket) %.3f (+%.1f%%) | uncapped %.3f "
          "(+%.1f%%)" % (args.repeats, best["plain"], UNKNOWN_WORD_SENTENCES, best["capped"],
                         100.0 * (best["capped"] / best["plain"] - 1), best["uncapped"],
                         100.0 * (best["uncapped"] / best["plain"] - 1)))
    for name in ("capped", "uncapped"):
        words = collections.Counter()
        for sample in samples[name]:
            words.update(sample.words)
        print("%s: %d sentences looked at; most frequent: %s" % (
            name, sum(sample.texts for sample in samples[name]),
            ", ".join("%s %d" % item for item in words.most_common(10))))


if __name__ == "__main__":
    main()
