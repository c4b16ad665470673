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
    letters, and the top words as [[word, count], ...] (most frequent first, then by word)."""

    def expand(self, pairs):
        return (pairs
                | "SumPerWord" >> beam.CombinePerKey(sum)
                | "Summarize" >> beam.CombineGlobally(_Summary()))


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


def pairs(counter):
    """A Counter of unknown words → (word, count) pairs, in a stable order."""
    return sorted(counter.items())
