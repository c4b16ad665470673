"""The confusion ranker's results stay those of the one-candidate-at-a-time implementation it replaced.

The digests in `confusion_ranker_digests.json` were written by the ranker as it stood before it was
vectorised (per character and candidate in Python): the ranker's fitted state (θ, β, set sizes) and,
for every character of a small universe drawn from the shared SIGHAN file and vocabulary, the ranked
candidates in order, their probabilities and their feature rows, all as exact bytes. The vectorised
ranker does the same floating-point operations in the same order per element, so the bytes must match.

The old code was recorded with one BLAS thread (OPENBLAS_NUM_THREADS=1): with more, its fitted θ followed
the machine's core count in the last bits; the ranker now fits on one BLAS thread whatever the machine.
To record again after an intended change of results: `BERTPREP_RECORD_DIGESTS=1 pytest <this file>`
(and say in the commit why the results changed).
"""
import hashlib
import json
import os
import pathlib

import pytest

from bertprep.transforms.csc import confusion, confusion_ranker, mask_probability
from bertprep.transforms.csc.confusion_files import ExternalSets
from bertprep.transforms.csc.glyph import GlyphIndex
from bertprep.transforms.csc.phonetic import PhoneticIndex

DIGESTS = pathlib.Path(__file__).with_name("confusion_ranker_digests.json")
PAIR_LINES = 200      # first lines of sighan15_train.tsv whose substitutions are the corpus pairs
VOCAB_STRIDE = 24     # every 24th single CJK vocabulary character joins the universe
SEED = 7


def _fixture(shared):
    csc = shared / "data" / "csc"
    counts, char_counts = {}, {}
    with open(csc / "sighan15_train.tsv", encoding="utf-8") as handle:
        for number, line in enumerate(handle):
            if number >= PAIR_LINES:
                break
            wrong, correct = line.rstrip("\n").split("\t")
            for char in correct:
                char_counts[char] = char_counts.get(char, 0) + 1
            if len(wrong) != len(correct):
                continue
            fold = confusion_ranker.fold_of(SEED, wrong)
            for c, w in zip(correct, wrong):
                if c != w:
                    counts[(c, w, fold)] = counts.get((c, w, fold), 0) + 1
    with open(shared / "data" / "vocab" / "zh_vocab.txt", "rb") as handle:
        vocab = sorted(mask_probability.vocabulary_characters(line.rstrip(b"\n") for line in handle))
    universe = set(vocab[::VOCAB_STRIDE]) | {c for key in counts for c in key[:2]}
    universe = sorted(c for c in universe if mask_probability.is_cjk_char(c))
    external = ExternalSets(["external:ocr_asr.txt"])
    with open(csc / "confusion_ocr_asr.txt", encoding="utf-8") as handle:
        for line in handle:
            char, _, candidates = line.strip().partition(":")
            if char in universe:
                external.add("external:ocr_asr.txt", char, [c for c in candidates if c != char])
    frequencies = confusion.merge_frequencies({c: n for c, n in char_counts.items() if c in universe})
    return universe, counts, frequencies, external


def _digests(universe, counts, frequencies, external, sources):
    """{'state': digest of the fitted state, 'ranked': digest of every character's ranking}."""
    model = confusion.ConfusionModel(
        universe, frequencies, sources, confusion.ConfusionOptions(mean_set_size=8.0),
        phonetic_index=PhoneticIndex(universe) if "phonetic" in sources else None,
        glyph_index=GlyphIndex(universe) if "glyph" in sources else None, external=external)
    state = model.fit_mixture(counts)
    # The ranker's part of the state (θ, β, the size scale); the EM mixture weights beside it sum floats in
    # set order, so their last bits follow PYTHONHASHSEED (the mixture is not used once the ranker is fitted).
    state_text = json.dumps({k: float(v).hex() for k, v in sorted(state.items()) if "." in k}, sort_keys=True)
    observed = confusion_ranker.ErrorCounts(counts)
    ranked = hashlib.sha256()
    for char in universe:
        for candidate, probability, row in confusion_ranker.rank(model.pools(), model.theta, char,
                                                                 observed.observed(char), external=external,
                                                                 beta=model.beta):
            ranked.update(candidate.encode("utf-8") + float(probability).hex().encode("ascii") + row.tobytes())
        ranked.update(b"|")
    return {"state": hashlib.sha256(state_text.encode("utf-8")).hexdigest(), "ranked": ranked.hexdigest()}


CASES = {
    "all_sources_with_external": (("phonetic", "glyph", "observed"), True),
    "phonetic_only": (("phonetic",), False),
}


@pytest.fixture(scope="module")
def fixture(shared):
    return _fixture(shared)


@pytest.mark.parametrize("case", sorted(CASES))
def test_ranked_sets_probabilities_and_rows_equal_those_recorded_before_vectorising(fixture, case):
    universe, counts, frequencies, external = fixture
    sources, with_external = CASES[case]
    got = _digests(universe, counts, frequencies, external if with_external else None, sources)
    recorded = json.loads(DIGESTS.read_text()) if DIGESTS.exists() else {}
    if os.environ.get("BERTPREP_RECORD_DIGESTS"):
        recorded[case] = got
        DIGESTS.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
        return
    assert case in recorded, "no recorded digests for %s" % case
    assert got == recorded[case]


def test_compiled_and_numpy_pinyin_features_agree_and_glyph_scores_equal_the_scalar_similarity(fixture):
    from bertprep.transforms.csc import glyph, pinyin_relations

    universe = fixture[0]
    codes = pinyin_relations.ReadingCodes(universe)
    index = GlyphIndex(universe)
    for char in universe[::8]:
        candidates = universe[::3] + ["a", "\u9fff"]  # no readings, and a character outside the universe
        numpy_rows = pinyin_relations.relation_features_numpy(codes, char, candidates)
        assert numpy_rows.shape == (len(candidates), pinyin_relations.RELATION_COUNT)
        assert pinyin_relations.relation_features(codes, char, candidates).tobytes() == numpy_rows.tobytes()
        found = index.candidates(char, 0.0)
        assert found == {other: glyph.similarity(index.data, char, other) for other in found}
        assert all(glyph.similarity(index.data, char, other) < 0.3 for other in set(found) - set(index.candidates(char)))
