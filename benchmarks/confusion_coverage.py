"""How well do our confusion sets cover real spelling errors they were not built from?

Splits the shared CSC data (SIGHAN 2015 TSV, SIGHAN 2014/2015 SGML; duplicates removed, split by a
seeded hash of the wrong sentence so a sentence and its duplicates land on one side) into train and
held-out parts; builds confusion sets from the train part only (phonetic + glyph + observed, with
the frequency prior from jieba's dictionary and the train corpus); reports, on the held-out
`correct -> wrong` substitutions, the share whose wrong character is in the correct character's set
at top-5, top-10 and in the full set (top-k, 15 unless --top-k), and the mean set size.

Rows:
- own sources: the learned ranker (`confusion_ranker.py`, fitted on the train part's pairs, its
  probabilities smoothed with the observed counts) and, as "before", the hand-set mixture it replaced;
- each external set alone (`--confusion-file`, default the shared OCR/ASR set of Wang et al. 2018):
  its candidates in file order (top-k) and whole;
- merged and ranked: own sources plus each external set (and all of them when there are several), the
  external stage fitted held-out by sentence folds of the train part as `mask-probs` does;
- ceilings: the share of held-out errors in the candidate pool (a perfect ranking, any size, and at
  sizes 1-5), the union of the own top-k and the external sets, and the ranker's weights fitted on the
  held-out pairs themselves (in-sample, never a result: it has seen the answers; it shows how far these
  features can rank at each size).

Mean set size is given over the held-out correct characters (the sets the coverage is measured on) and,
for the main rows, over every character of the universe (vocabulary CJK characters + train corpus, every
10th, the sets the pipeline writes).

`--tune` searches the ranker's knobs on a second split *inside the train part* (never the held-out
part) and prints the results; the library defaults are the result of that search.

Usage: .venv/bin/python benchmarks/confusion_coverage.py [--shared ../shared] [--top-k 15]
       [--confusion-file FILE ...] [--ablation] [--tune]
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
from bertprep.transforms.csc.alignment import AlignmentError, align_checked  # noqa: E402
from bertprep.transforms.csc.confusion import (ConfusionModel, ConfusionOptions, jieba_char_frequency,  # noqa: E402
                                           merge_frequencies)
from bertprep.transforms.csc.confusion_files import ConfusionEntry, ExternalSets, iter_entries  # noqa: E402
from bertprep.transforms.csc.confusion_ranker import fold_of  # noqa: E402
from bertprep.io.formats.csc import CscPair, iter_file_pairs  # noqa: E402
from bertprep.transforms.csc.glyph import GlyphIndex  # noqa: E402
from bertprep.transforms.csc.mask_probability import is_cjk_char, vocabulary_characters  # noqa: E402
from bertprep.transforms.csc.phonetic import PhoneticIndex  # noqa: E402

CSC_FILES = ("sighan15_train.tsv", "sighan15_train.sgml", "sighan14_train.sgml")
OWN = ["phonetic", "glyph", "observed"]
SWEEP = (20, 25, 30)


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


def substitution_counts(pairs, seed=None):
    """(correct, wrong) counts; with a seed keyed (correct, wrong, fold) as mask-probs keys them."""
    counts = Counter()
    for wrong, _, alignment in pairs:
        fold = fold_of(seed, wrong) if seed is not None else None
        for sub in alignment.substitutions:
            counts[(sub.correct, sub.wrong) if fold is None else (sub.correct, sub.wrong, fold)] += 1
    return counts


def load_external(paths):
    """[(source name, ExternalSets of that file alone)], dead letters counted per file."""
    result = []
    for path in paths:
        with open(path, "rb") as handle:
            items = list(iter_entries(handle, path))
        entries = [item for item in items if isinstance(item, ConfusionEntry)]
        sets = ExternalSets([entries[0].source] if entries else [], entries)
        dead = len(items) - len(entries)
        print(f"{sets.names[0] if entries else path}: {len(entries)} entries, {dead} dead letters")
        result.append((sets.names[0], sets))
    return result


def merged(externals):
    names = [name for name, _ in externals]
    sets = ExternalSets(names)
    for name, single in externals:
        for char, candidates in single.as_mapping()[name].items():
            sets.add(name, char, candidates)
    return sets


class SetBuilder:
    """Confusion sets from a training part: indexes built once, a model per option setting."""

    def __init__(self, train, vocab_chars, base_frequency, seed):
        self.fold_counts = substitution_counts(train, seed)
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

    def model(self, options, sources, external=None, fit_counts=None):
        model = ConfusionModel(self.universe, self.frequencies, sources, options, self.phonetic, self.glyph,
                               external=external)
        model.fit_mixture(self.fold_counts if fit_counts is None else fit_counts)
        return model


def evaluate(builder, held_out_counts, model, top_k, sizes=(5, 10)):
    """Coverage at the `sizes` and at top_k (`full`) on held-out pairs; mean size over held-out correct chars."""
    hits = Counter()
    total = 0
    sets = {}
    for (c, w), n in held_out_counts.items():
        if c not in sets:
            sets[c] = [item.candidate for item in model.score_candidates(c, builder.observed.get(c), top_k)]
        ranked = sets[c]
        total += n
        for size in sizes:
            hits[size] += n * (w in ranked[:size])
        hits["full"] += n * (w in ranked)
    mean_size = sum(len(r) for r in sets.values()) / max(len(sets), 1)
    return {k: v / max(total, 1) for k, v in hits.items()}, mean_size, sets


def universe_mean_size(builder, model, top_k, step=10):
    """Mean set size over the universe's characters (every `step`-th), as the pipeline would write them."""
    sample = builder.universe[::step]
    return sum(len(model.score_candidates(c, builder.observed.get(c), top_k)) for c in sample) / len(sample)


def external_alone(sets, name, held_out_counts, top_k):
    """An external set by itself: coverage of its first 5/10/top_k candidates (file order) and whole."""
    total = sum(held_out_counts.values())
    chars = {c for c, _ in held_out_counts}
    coverage = {}
    for size in (5, 10, top_k, None):
        coverage[size] = sum(n for (c, w), n in held_out_counts.items()
                             if w in sets.candidates(name, c)[:size]) / max(total, 1)
    whole_mean = sum(len(sets.candidates(name, c)) for c in chars) / max(len(chars), 1)
    cut_mean = sum(min(top_k, len(sets.candidates(name, c))) for c in chars) / max(len(chars), 1)
    table = sets.as_mapping()[name]
    return coverage, cut_mean, whole_mean, sum(len(v) for v in table.values()) / max(len(table), 1), len(table)


def pool_ceiling(builder, model, held_out_counts, external=None):
    """Share of held-out errors whose wrong character is in the correct character's pool (+ observed, external)."""
    total = sum(held_out_counts.values())
    pools = model.pools()
    hit = sum(n for (c, w), n in held_out_counts.items()
              if w in builder.observed.get(c, {}) or w in pools.pool(c, builder.observed.get(c), external=external)[0])
    return hit / total


def perfect_ranking(builder, model, held_out_counts, size, external=None):
    """Coverage of the best `size` candidates of each pool, chosen knowing the held-out errors: what the
    pool allows at that size (the rest is the ranking's job)."""
    by_char = defaultdict(dict)
    for (c, w), n in held_out_counts.items():
        by_char[c][w] = n
    pools = model.pools()
    hit = 0
    for c, errors in by_char.items():
        pool = set(pools.pool(c, builder.observed.get(c), external=external)[0]) | set(builder.observed.get(c, {}))
        hit += sum(sorted((n for w, n in errors.items() if w in pool), reverse=True)[:size])
    return hit / sum(held_out_counts.values())


def tune(train, vocab_chars, base_frequency, seed, top_k):
    """Search the ranker's knobs on a split inside the train part (never the held-out part)."""
    inner_train, inner_dev = split(train, seed, 0.25, salt="tune")
    builder = SetBuilder(inner_train, vocab_chars, base_frequency, seed)
    dev_counts = substitution_counts(inner_dev)
    results = []
    for group_size, ranker_l2, prior_strength in itertools.product([40, 60], [1.0, 3.0], [1.0, 3.0, 10.0]):
        options = ConfusionOptions(pool_group_size=group_size, ranker_l2=ranker_l2, prior_strength=prior_strength)
        coverage, _, _ = evaluate(builder, dev_counts, builder.model(options, OWN), top_k)
        results.append((coverage["full"], coverage[10], coverage[5], options))
    results.sort(key=lambda r: (r[0], r[1], r[2]), reverse=True)
    print(f"tuning on {len(inner_train)} inner-train / {len(inner_dev)} inner-dev sentences (train part only):")
    for full, top10, top5, options in results:
        print(f"  full {full:.4f} top10 {top10:.4f} top5 {top5:.4f}  pool_group_size={options.pool_group_size} "
              f"ranker_l2={options.ranker_l2} prior_strength={options.prior_strength}")
    return results[0][3]


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", default=os.path.join(here, "..", "..", "shared"))
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--held-out-share", type=float, default=0.2)
    parser.add_argument("--top-k", type=int, default=15)
    parser.add_argument("--confusion-file", action="append", default=None,
                        help="an external confusion set (repeatable; default: the shared confusion_ocr_asr.txt)")
    parser.add_argument("--ablation", action="store_true", help="also rank with each own source alone")
    parser.add_argument("--tune", action="store_true", help="search knobs on a split inside the train part")
    args = parser.parse_args(argv)

    started = time.time()
    pairs = load_pairs(args.shared)
    train, held_out = split(pairs, args.seed, args.held_out_share)
    held_out_counts = substitution_counts(held_out)
    vocab_chars = vocabulary_characters(os.path.join(args.shared, "data", "vocab", "zh_vocab.txt"))
    base_frequency = jieba_char_frequency()
    print(f"pairs: {len(pairs)} distinct sentences; train {len(train)}, held-out {len(held_out)}; "
          f"held-out substitutions: {sum(held_out_counts.values())} ({len(held_out_counts)} distinct pairs)")
    options = ConfusionOptions()
    if args.tune:
        options = tune(train, vocab_chars, base_frequency, args.seed, args.top_k)
    externals = load_external(args.confusion_file or [os.path.join(args.shared, "data", "csc",
                                                                   "confusion_ocr_asr.txt")])

    builder = SetBuilder(train, vocab_chars, base_frequency, args.seed)
    print(f"universe: {len(builder.universe)} characters (vocabulary CJK + train corpus)")
    seen = sum(n for key, n in held_out_counts.items() if key in builder.pair_counts)
    print(f"held-out substitutions whose exact pair occurs in train: {seen / sum(held_out_counts.values()):.4f}")
    print(f"options: {options}")
    k = args.top_k
    print(f"mean size: over the held-out correct characters (`held-out`) and over every 10th universe character "
          f"(`universe`); `top-{k}` is the whole set unless the row says otherwise")
    print(f"{'confusion sets':<46} {'top-5':>7} {'top-10':>7} {'top-' + str(k):>7} {'held-out':>9} {'universe':>9}")

    def row(label, coverage, held_mean, universe_mean=None):
        universe_text = f"{universe_mean:9.2f}" if universe_mean is not None else f"{'-':>9}"
        print(f"{label:<46} {coverage[5]:7.4f} {coverage[10]:7.4f} {coverage['full']:7.4f} {held_mean:9.2f}"
              f" {universe_text}", flush=True)

    mixture = builder.model(replace(options, ranker=False), OWN)
    coverage, held_mean, _ = evaluate(builder, held_out_counts, mixture, k)
    row("own: mixture (before)", coverage, held_mean)
    if args.ablation:
        for sources in (["phonetic"], ["glyph"], ["observed"], ["phonetic", "glyph"]):
            coverage, held_mean, _ = evaluate(builder, held_out_counts, builder.model(options, sources), k)
            row("own: ranker " + "+".join(sources), coverage, held_mean)
    own = builder.model(options, OWN)
    coverage, held_mean, own_sets = evaluate(builder, held_out_counts, own, k)
    row("own: ranker phonetic+glyph+observed", coverage, held_mean, universe_mean_size(builder, own, k))
    for larger in SWEEP:
        coverage, held_mean, _ = evaluate(builder, held_out_counts, own, larger)
        row(f"  same, top-{larger}", coverage, held_mean)

    merged_models = []
    alone = {}
    for name, sets in externals:
        coverage, cut_mean, whole_mean, entry_mean, entries = external_alone(sets, name, held_out_counts, k)
        alone[name] = (coverage[None], whole_mean)
        row(f"{name} alone, file order", {5: coverage[5], 10: coverage[10], "full": coverage[k]}, cut_mean)
        print(f"{'  same, whole set':<46} {'':>7} {'':>7} {coverage[None]:7.4f} {whole_mean:9.2f}"
              f" {entry_mean:9.2f}  (universe = its own {entries} entries)")
    candidates = [(name, sets) for name, sets in externals] + ([("all external", merged(externals))]
                                                             if len(externals) > 1 else [])
    for name, sets in candidates:
        model = builder.model(options, OWN, external=sets)
        merged_models.append((name, sets, model))
        coverage, held_mean, _ = evaluate(builder, held_out_counts, model, k)
        row(f"merged and ranked: own + {name}", coverage, held_mean, universe_mean_size(builder, model, k))
        for larger in SWEEP:
            coverage, held_mean, _ = evaluate(builder, held_out_counts, model, larger)
            row(f"  same, top-{larger}", coverage, held_mean)
        for source in sets.names:
            prefix = "ranker.%s." % source
            print(f"  {source} weights (held-out by sentence): " + ", ".join(
                f"{key[len(prefix):]}={value:+.2f}" for key, value in model.mixture.items() if key.startswith(prefix)))
        if name in alone:
            whole, whole_mean = alone[name]
            for size in range(1, 2 * k):
                coverage, held_mean, _ = evaluate(builder, held_out_counts, model, size, sizes=())
                if coverage["full"] >= whole:
                    print(f"  reaches {name} alone ({whole:.4f} at mean {whole_mean:.2f}) at top-{size}: "
                          f"{coverage['full']:.4f} at mean {held_mean:.2f}, {1 - held_mean / whole_mean:.0%} smaller")
                    break

    print("ceilings:")
    total = sum(held_out_counts.values())
    print("  in the own candidate pool (a perfect ranking, any size): "
          f"{pool_ceiling(builder, own, held_out_counts):.4f}")
    for name, sets, model in merged_models:
        print(f"  in the pool with {name}: {pool_ceiling(builder, model, held_out_counts, sets):.4f}")
        union = {c: set(own_sets[c]) | set(sets.any_candidates(c)) for c in own_sets}
        hit = sum(n for (c, w), n in held_out_counts.items() if w in union[c])
        print(f"  own top-{k} united with {name} (no ranking): {hit / total:.4f} at held-out mean "
              f"{sum(map(len, union.values())) / len(union):.2f}")
    for label, model, sets in [("own", own, None)] + [(f"own + {name}", model, sets)
                                                      for name, sets, model in merged_models]:
        print(f"  {label}, a perfect ranking of the pool at each size: " + ", ".join(
            f"top-{size} {perfect_ranking(builder, model, held_out_counts, size, sets):.4f}"
            for size in (1, 2, 3, 5)))
    in_sample_counts = substitution_counts(held_out, args.seed)
    in_sample = [("own", builder.model(options, OWN, fit_counts=in_sample_counts))]
    in_sample += [(f"own + {name}", builder.model(options, OWN, external=sets, fit_counts=in_sample_counts))
                  for name, sets, _ in merged_models]
    for label, model in in_sample:
        figures = []
        for size in (5, 10, k) + SWEEP:
            coverage, _, _ = evaluate(builder, held_out_counts, model, size, sizes=())
            figures.append(f"top-{size} {coverage['full']:.4f}")
        print(f"  {label}, weights fitted on the held-out pairs themselves (in-sample, it has seen the answers): "
              + ", ".join(figures))
    print("ranker weights fitted on train: " + ", ".join(
        f"{key[len('ranker.'):]}={value:+.2f}" for key, value in own.mixture.items()
        if key.startswith("ranker.") and not key.startswith("ranker.external:")))
    sized = builder.model(replace(options, mean_set_size=k), OWN)
    coverage, held_mean, _ = evaluate(builder, held_out_counts, sized, k)
    row(f"own: per-character sizes, universe mean {k}", coverage, held_mean, universe_mean_size(builder, sized, k))
    print(f"elapsed {time.time() - started:.1f} s")


if __name__ == "__main__":
    main()
