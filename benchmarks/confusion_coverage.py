"""How well do our confusion sets cover real spelling errors they were not built from?

Splits the shared CSC data (SIGHAN 2015 TSV, SIGHAN 2014/2015 SGML; duplicates removed, split by a
seeded hash of the wrong sentence so a sentence and its duplicates land on one side) into train and
held-out parts; builds confusion sets from the train part only (phonetic + glyph + observed, with
the frequency prior from jieba's dictionary and the train corpus); reports, on the held-out
`correct -> wrong` substitutions, the share whose wrong character is in the correct character's set
at top-5, top-10 and in the full set, and the mean set size. The published OCR/ASR confusion set
(`confusion_ocr_asr.txt`) is scored on the same held-out pairs.

Sets are ranked by the learned ranker (`confusion_ranker.py`, fitted on the train part's pairs, its
probabilities smoothed with the observed counts); the hand-set mixture it replaced is scored too, as "before". Mean set
size is reported two ways: over the held-out correct characters (the sets the coverage is measured
on) and over every character of the universe (vocabulary CJK characters + train corpus, the sets the
pipeline writes). With fixed top-k both are about k; per-character sizes (`mean_size`) spend the
universe's budget on characters that err often, so their held-out mean is far larger: compare like
with like.

`--tune` searches the ranker's knobs on a second split *inside the train part* (never the held-out
part) and prints the results; the library defaults are the result of that search.

Usage: .venv/bin/python benchmarks/confusion_coverage.py [--shared ../shared] [--top-k 15] [--tune]
"""
import argparse
import itertools
import os
import sys
import time
from collections import Counter, defaultdict
from dataclasses import replace

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from bertprep.seeding import stable_hash  # noqa: E402
from bertprep.transforms.alignment import AlignmentError, align_checked  # noqa: E402
from bertprep.transforms.confusion import (ConfusionModel, ConfusionWeights, jieba_char_frequency,  # noqa: E402
                                           load_published_confusion_set, merge_frequencies)
from bertprep.transforms.csc_readers import CscPair, iter_file_pairs  # noqa: E402
from bertprep.transforms.glyph import GlyphIndex  # noqa: E402
from bertprep.transforms.mask_probability import is_cjk_char, vocabulary_characters  # noqa: E402
from bertprep.transforms.phonetic import PhoneticIndex  # noqa: E402

CSC_FILES = ("sighan15_train.tsv", "sighan15_train.sgml", "sighan14_train.sgml")


def load_pairs(shared):
    seen = set()
    pairs = []
    for name in CSC_FILES:
        for item in iter_file_pairs(os.path.join(shared, "data", "csc", name)):
            if not isinstance(item, CscPair):
                continue
            if (item.wrong, item.correct) in seen:
                continue
            seen.add((item.wrong, item.correct))
            try:
                alignment = align_checked(item.correct, item.wrong)
            except AlignmentError:
                continue
            pairs.append((item.wrong, item.correct, alignment))
    return pairs


def split(pairs, seed, held_out_share, salt="held-out"):
    train, held_out = [], []
    for pair in pairs:
        bucket = stable_hash(seed, salt, pair[0]) % 10_000
        (held_out if bucket < held_out_share * 10_000 else train).append(pair)
    return train, held_out


def substitution_counts(pairs):
    counts = Counter()
    for _, _, alignment in pairs:
        for sub in alignment.substitutions:
            counts[(sub.correct, sub.wrong)] += 1
    return counts


class SetBuilder:
    """Confusion sets from a training part: indexes built once, a model per weight setting."""

    def __init__(self, train, vocab_chars, base_frequency):
        self.pair_counts = substitution_counts(train)
        self.observed = defaultdict(dict)
        for (c, w), n in self.pair_counts.items():
            self.observed[c][w] = n
        corpus = Counter()
        for wrong, correct, _ in train:
            corpus.update(ch for ch in correct if is_cjk_char(ch))
            corpus.update(ch for ch in wrong if is_cjk_char(ch))
        self.universe = sorted(set(vocab_chars) | set(corpus))
        self.frequencies = merge_frequencies(base_frequency, corpus)
        self.phonetic = PhoneticIndex(self.universe)
        self.glyph = GlyphIndex(self.universe)

    def model(self, weights, sources):
        model = ConfusionModel(self.universe, self.frequencies, sources, weights, self.phonetic, self.glyph)
        model.fit_mixture(self.pair_counts)
        return model


def evaluate(builder, held_out_counts, weights, sources, top_k, model=None):
    """Coverage at top-5/10/full on held-out pairs; mean set size over the held-out correct characters."""
    model = model or builder.model(weights, sources)
    hits = {5: 0, 10: 0, "full": 0}
    total = 0
    sets = {}
    for (c, w), n in held_out_counts.items():
        if c not in sets:
            sets[c] = [item.candidate for item in model.score_candidates(c, builder.observed.get(c), top_k)]
        ranked = sets[c]
        total += n
        if w in ranked[:5]:
            hits[5] += n
        if w in ranked[:10]:
            hits[10] += n
        if w in ranked:
            hits["full"] += n
    mean_size = sum(len(r) for r in sets.values()) / max(len(sets), 1)
    return {k: v / max(total, 1) for k, v in hits.items()}, mean_size, model


def universe_mean_size(builder, model, top_k, step=1):
    """Mean set size over the universe's characters (every `step`-th), as the pipeline would write them."""
    sample = builder.universe[::step]
    return sum(len(model.score_candidates(c, builder.observed.get(c), top_k)) for c in sample) / len(sample)


def ceiling(builder, model, held_out_counts, train_pairs, top_k):
    """What any ranking of these candidates could reach: shares of held-out errors whose wrong character
    is in the universe at all, and in the correct character's candidate pool (ranker pool + observed)."""
    total = sum(held_out_counts.values())
    universe = set(builder.universe)
    pools = model.pools()
    in_universe = in_pool = unseen = unseen_top = 0
    for (c, w), n in held_out_counts.items():
        in_universe += n * (w in universe)
        in_pool += n * ((c, w) in train_pairs or w in pools.pool(c, builder.observed.get(c))[0])
        if (c, w) not in train_pairs:
            unseen += n
            ranked = [item.candidate for item in model.score_candidates(c, builder.observed.get(c), top_k)]
            unseen_top += n * (w in ranked)
    print(f"ceiling: wrong character in the universe {in_universe / total:.4f}; in the correct character's candidate "
          f"pool (a perfect ranking of it, any set size) {in_pool / total:.4f}; held-out pairs never seen in train: "
          f"{unseen / total:.4f} of errors, {unseen_top / max(unseen, 1):.4f} of them in the top-{top_k}")


def evaluate_published(table, held_out_counts):
    total = sum(held_out_counts.values())
    hit = sum(n for (c, w), n in held_out_counts.items() if w in table.get(c, ()))
    chars = {c for c, _ in held_out_counts}
    mean_queried = sum(len(table.get(c, ())) for c in chars) / max(len(chars), 1)
    mean_all = sum(len(v) for v in table.values()) / max(len(table), 1)
    return hit / max(total, 1), mean_queried, mean_all


def tune(train, vocab_chars, base_frequency, seed, top_k):
    """Search the ranker's knobs on a split inside the train part (never the held-out part)."""
    inner_train, inner_dev = split(train, seed, 0.25, salt="tune")
    builder = SetBuilder(inner_train, vocab_chars, base_frequency)
    dev_counts = substitution_counts(inner_dev)
    results = []
    for group_limit, ranker_l2, prior_strength in itertools.product([40, 60], [1.0, 3.0], [1.0, 3.0, 10.0]):
        weights = ConfusionWeights(group_limit=group_limit, ranker_l2=ranker_l2, prior_strength=prior_strength)
        coverage, mean_size, _ = evaluate(builder, dev_counts, weights, ["phonetic", "glyph", "observed"], top_k)
        results.append((coverage["full"], coverage[10], coverage[5], weights))
    results.sort(key=lambda r: (r[0], r[1], r[2]), reverse=True)
    print(f"tuning on {len(inner_train)} inner-train / {len(inner_dev)} inner-dev sentences (train part only):")
    for full, top10, top5, weights in results:
        print(f"  full {full:.4f} top10 {top10:.4f} top5 {top5:.4f}  group_limit={weights.group_limit} "
              f"ranker_l2={weights.ranker_l2} prior_strength={weights.prior_strength}")
    best = results[0][3]
    for mean_size in (15,):
        weights = replace(best, mean_size=mean_size)
        coverage, held_mean, model = evaluate(builder, dev_counts, weights, ["phonetic", "glyph", "observed"], top_k)
        print(f"  per-character sizes, mean {mean_size} over the universe: full {coverage['full']:.4f} "
              f"(mean over dev correct characters {held_mean:.1f})")
    return best


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", default=os.path.join(here, "..", "..", "shared"))
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--held-out-share", type=float, default=0.2)
    parser.add_argument("--top-k", type=int, default=15)
    parser.add_argument("--tune", action="store_true", help="search weights on a split inside the train part")
    args = parser.parse_args(argv)

    started = time.time()
    pairs = load_pairs(args.shared)
    train, held_out = split(pairs, args.seed, args.held_out_share)
    held_out_counts = substitution_counts(held_out)
    vocab_chars = vocabulary_characters(os.path.join(args.shared, "data", "vocab", "zh_vocab.txt"))
    base_frequency = jieba_char_frequency()
    print(f"pairs: {len(pairs)} distinct sentences; train {len(train)}, held-out {len(held_out)}; "
          f"held-out substitutions: {sum(held_out_counts.values())} ({len(held_out_counts)} distinct pairs)")

    weights = ConfusionWeights()
    if args.tune:
        weights = tune(train, vocab_chars, base_frequency, args.seed, args.top_k)

    builder = SetBuilder(train, vocab_chars, base_frequency)
    print(f"universe: {len(builder.universe)} characters (vocabulary CJK + train corpus)")
    train_pairs = substitution_counts(train)
    seen = sum(n for key, n in held_out_counts.items() if key in train_pairs)
    print(f"held-out substitutions whose exact pair occurs in train: {seen / sum(held_out_counts.values()):.4f}")
    print(f"weights: {weights}")
    print("mean size: over the held-out correct characters (`held-out`) and over every universe character "
          "(`universe`, every 10th for the k sweep)")
    print(f"{'sources':<34} {'top-5':>7} {'top-10':>7} {'full':>7} {'held-out':>9} {'universe':>9}")

    def row(label, coverage, held_mean, universe_mean):
        print(f"{label:<34} {coverage[5]:7.4f} {coverage[10]:7.4f} {coverage['full']:7.4f} {held_mean:9.2f}"
              f" {universe_mean:9.2f}")

    all_sources = ["phonetic", "glyph", "observed"]
    mixture_weights = replace(weights, ranker=0)
    coverage, held_mean, mixture_model = evaluate(builder, held_out_counts, mixture_weights, all_sources, args.top_k)
    row("mixture (before), top-%d" % args.top_k, coverage, held_mean,
        universe_mean_size(builder, mixture_model, args.top_k, 10))
    for sources in (["phonetic"], ["glyph"], ["observed"], ["phonetic", "glyph"], all_sources):
        coverage, held_mean, model = evaluate(builder, held_out_counts, weights, sources, args.top_k)
        step = 1 if sources == all_sources else 10
        row("ranker " + "+".join(sources), coverage, held_mean, universe_mean_size(builder, model, args.top_k, step))
    for larger in (20, 30, 50, 100):
        coverage, held_mean, _ = evaluate(builder, held_out_counts, weights, all_sources, larger, model=model)
        row("  same, top-k=%d" % larger, coverage, held_mean, universe_mean_size(builder, model, larger, 10))
    ceiling(builder, model, held_out_counts, train_pairs, args.top_k)
    print("ranker weights fitted on train: " + ", ".join(
        f"{k[len('ranker.'):]}={v:+.2f}" for k, v in model.mixture.items() if k.startswith("ranker.")))
    for mean_size in (10, 15):
        sized = builder.model(replace(weights, mean_size=mean_size), all_sources)
        coverage, held_mean, _ = evaluate(builder, held_out_counts, None, all_sources, args.top_k, model=sized)
        row("  per-char sizes, mean %d/universe" % mean_size, coverage, held_mean,
            universe_mean_size(builder, sized, args.top_k))
    published_path = os.path.join(args.shared, "data", "csc", "confusion_ocr_asr.txt")
    with open(published_path, encoding="utf-8") as handle:
        table = load_published_confusion_set(handle)
    coverage, mean_queried, mean_all = evaluate_published(table, held_out_counts)
    print(f"{'confusion_ocr_asr.txt':<34} {'-':>7} {'-':>7} {coverage:7.4f} {mean_queried:9.2f} {mean_all:9.2f}"
          f"  (universe = its own {len(table)} entries)")
    print(f"elapsed {time.time() - started:.1f} s")


if __name__ == "__main__":
    main()
