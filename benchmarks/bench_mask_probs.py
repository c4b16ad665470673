"""`bertprep mask-probs` on the shared SIGHAN 2015 training pairs: whole runs and the ranking's rate.

Prints, for 2,338 pairs (../shared/data/csc/sighan15_train.tsv) and 23,380 pairs (the same file ten times
over), each with --vocab ../shared/data/vocab/zh_vocab.txt:
  - the whole process: median wall seconds, CPU seconds and peak RSS (os.wait4) of `bertprep mask-probs`
    over --repeats runs, against the issue's targets (≤ 10 s wall and ≤ 600 MB for 2,338 pairs);
  - ranking alone, in this process: characters ranked per second by the fitted confusion model (its
    candidate pools, features and scores, and the candidates of the kinds a ranked set lacks, as the
    PerCharacter step calls them), over the run's universe (the
    vocabulary's single CJK characters plus those seen), after fitting on the file's substitutions.
The machine's load average is printed before and after: timings on a shared machine are only comparable in
one run.

    python benchmarks/bench_mask_probs.py [--repeats 3] [--skip-large]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SHARED = os.environ.get("BERTPREP_SHARED", os.path.join(os.path.dirname(REPO), "shared"))
PAIRS = os.path.join(SHARED, "data", "csc", "sighan15_train.tsv")
VOCAB = os.path.join(SHARED, "data", "vocab", "zh_vocab.txt")
TARGET_WALL_S, TARGET_PEAK_MB = 10.0, 600.0


def timed_runs(input_path: str, repeats: int, scratch: str):
    """Median (wall, CPU, peak MB) over `repeats` runs, each timed from outside by os.wait4."""
    walls, cpus, peaks = [], [], []
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (REPO, os.environ.get("PYTHONPATH")) if p))
    for _ in range(repeats):
        started = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-m", "bertprep", "mask-probs", "--input", input_path,
                                    "--vocab", VOCAB, "--output", os.path.join(scratch, "out"), "--overwrite"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        walls.append(time.perf_counter() - started)
        if os.waitstatus_to_exitcode(status):
            raise SystemExit("mask-probs failed on %s (rerun it by hand to see why)" % input_path)
        cpus.append(usage.ru_utime + usage.ru_stime)
        peaks.append(usage.ru_maxrss / 1024.0)
    return statistics.median(walls), statistics.median(cpus), max(peaks)


def ranking_rate(input_path: str):
    """(characters, wall s, CPU s, characters/s) of ranking the run's universe with a model fitted on its pairs."""
    from bertprep.options.mask_probs import MaskProbsOptions
    from bertprep.pipelines.mask_probs import KIND_LIMIT, build_confusion_model, universe_from_vocabulary
    from bertprep.transforms.csc import confusion_masking, confusion_ranker, mask_probability

    options = MaskProbsOptions(input=input_path, vocab=VOCAB, output="unused")
    counts, seen = {}, {}
    with open(input_path, encoding="utf-8") as handle:
        for line in handle:
            wrong, correct = line.rstrip("\n").split("\t")
            for char in correct:
                seen[char] = seen.get(char, 0) + 1
            if len(wrong) == len(correct):  # the pipeline aligns; equal lengths are nearly all SIGHAN pairs
                fold = confusion_ranker.fold_of(options.seed, wrong)
                for c, w in zip(correct, wrong):
                    if c != w:
                        counts[(c, w, fold)] = counts.get((c, w, fold), 0) + 1
    universe = sorted(c for c in set(universe_from_vocabulary(options)) | set(seen) | {x for k in counts for x in k[:2]}
                      if mask_probability.is_cjk_char(c))
    model = build_confusion_model(options, universe, seen)
    model.fit_mixture(counts)
    observed = confusion_ranker.ErrorCounts(counts)
    started, cpu_started = time.perf_counter(), time.process_time()
    for char in universe:
        ranked = model.score_candidates(char, observed.observed(char), options.top_k)
        # The kinds the ranked set lacks then get their own candidates (the confusion_kinds table), as in
        # the pipeline's PerCharacter step.
        present = {confusion_masking.classify(char, {"candidate": item.candidate, "same_pinyin": item.same_pinyin,
                                                     "phonetic_score": round(item.phonetic, 6), "glyph_score": round(item.glyph, 6),
                                                     "source": item.source}) for item in ranked}
        missing = [kind for kind in confusion_masking.CANDIDATE_KINDS if kind not in present]
        model.kind_candidates(char, missing, options.top_k or KIND_LIMIT)
    seconds = time.perf_counter() - started
    return len(universe), seconds, time.process_time() - cpu_started, len(universe) / seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-large", action="store_true", help="only the 2,338 pairs")
    args = parser.parse_args(argv)
    print("load average before: %.2f %.2f %.2f" % os.getloadavg())
    with tempfile.TemporaryDirectory() as scratch:
        large = os.path.join(scratch, "pairs_x10.tsv")
        with open(PAIRS, encoding="utf-8") as handle:
            text = handle.read()
        with open(large, "w", encoding="utf-8") as handle:
            handle.write(text * 10)
        inputs = [("2,338 pairs", PAIRS)] + ([] if args.skip_large else [("23,380 pairs", large)])
        for label, path in inputs:
            wall, cpu, peak = timed_runs(path, args.repeats, scratch)
            characters, seconds, cpu, rate = ranking_rate(path)
            print("%-13s whole run: %.1f s wall, %.1f CPU s, peak %.0f MB (median of %d)%s" % (
                label, wall, cpu, peak, args.repeats,
                "; targets ≤ %.0f s, ≤ %.0f MB: %s" % (TARGET_WALL_S, TARGET_PEAK_MB, "met" if (
                    wall <= TARGET_WALL_S and peak <= TARGET_PEAK_MB) else "NOT met") if path == PAIRS else ""))
            print("%-13s ranking alone: %d characters in %.2f s wall (%.2f CPU s), %.0f characters/s" % (
                "", characters, seconds, cpu, rate))
    print("load average after: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
