"""The words that became [UNK], summed over a run into one small stat for info.json ("unknown_words").

Jobs emit (word, count) pairs for the texts they saw an [UNK] in. Counts are summed per word by Beam
(spread over workers, so memory does not grow with the number of distinct words in one place), then
one combiner keeps the totals and the most frequent words. Every word's count is exact before the top
is chosen, and the top is ordered by (count, word), so the stat is the same with any worker count.
"""
import heapq

import apache_beam as beam

TOP_WORDS = 10


class SummarizeUnknownWords(beam.PTransform):
    """(word, count) pairs → one dict: occurrences, distinct words, occurrences of words with upper-case
    letters, and the top words as [[word, count], ...] (most frequent first, then by word); and the same
    summary for the two kinds the [UNK] warnings count apart: "punctuation" (punctuation and symbols the
    vocabulary lacks) and "script" (letters, digits, ideographs: the text's own script)."""

    def expand(self, pairs):
        return (pairs
                | "SumPerWord" >> beam.CombinePerKey(sum)
                | "Summarize" >> beam.CombineGlobally(_SummaryByKind()))


class _Summary(beam.CombineFn):
    """Accumulator: [occurrences, distinct, with upper case, top as (-count, word) pairs]. Its input has one
    element per word (already summed), so keeping the best TOP_WORDS of each part keeps the best overall."""

    def create_accumulator(self):
        return [0, 0, 0, []]

    def add_input(self, accumulator, word_count):
        word, count = word_count
        accumulator[0] += count
        accumulator[1] += 1
        if word != word.lower():
            accumulator[2] += count
        accumulator[3].append((-count, word))
        if len(accumulator[3]) > TOP_WORDS:
            accumulator[3] = heapq.nsmallest(TOP_WORDS, accumulator[3])
        return accumulator

    def merge_accumulators(self, accumulators):
        merged = self.create_accumulator()
        for accumulator in accumulators:
            for index in range(3):
                merged[index] += accumulator[index]
            merged[3].extend(tuple(item) for item in accumulator[3])
        merged[3] = heapq.nsmallest(TOP_WORDS, merged[3])
        return merged

    def extract_output(self, accumulator):
        return {"occurrences": accumulator[0], "distinct": accumulator[1], "with_upper_case": accumulator[2],
                "top": [[word, -negated] for negated, word in sorted(tuple(item) for item in accumulator[3])]}


class _SummaryByKind(beam.CombineFn):
    """A `_Summary` of all words, and one each of the punctuation words and the script words."""

    KINDS = ("punctuation", "script")

    def __init__(self):
        from bertprep.transforms.tokenization.punctuation import is_punctuation_or_symbol

        self._all = _Summary()
        self._is_punctuation = is_punctuation_or_symbol

    def create_accumulator(self):
        return [self._all.create_accumulator() for _ in range(3)]  # all, punctuation, script

    def add_input(self, accumulator, word_count):
        add = self._all.add_input
        accumulator[0] = add(accumulator[0], word_count)
        kind = 1 if self._is_punctuation(word_count[0]) else 2
        accumulator[kind] = add(accumulator[kind], word_count)
        return accumulator

    def merge_accumulators(self, accumulators):
        accumulators = list(accumulators)
        return [self._all.merge_accumulators([accumulator[part] for accumulator in accumulators])
                for part in range(3)]

    def extract_output(self, accumulator):
        summary = self._all.extract_output(accumulator[0])
        for kind, part in zip(self.KINDS, accumulator[1:]):
            summary[kind] = self._all.extract_output(part)
        return summary


def pairs(counter):
    """A Counter of unknown words → (word, count) pairs, in a stable order."""
    return sorted(counter.items())
