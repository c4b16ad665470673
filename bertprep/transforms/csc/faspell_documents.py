"""FASPell's own training instances from wrong/correct pairs (`pretraining --wrong-input-instances faspell`).

What FASPell's `create_data.py` and `create_tf_record.py` do, read from their description and rebuilt here:
each pair becomes documents of aligned (wrong, correct) sentences, cut after 。；？！ (not before a closing
quote): the pair itself, a correct/correct copy when it has an error, and for n >= 2 errors n - 1 partly
corrected copies (copy i corrects i errors picked at random; seeded here, unseeded in FASPell). These
documents make next-sentence instances like any others (B drawn from the other documents of the bucket).
An instance with an error in A or B predicts every error (input the wrong character, label the correct one)
and each other character of the probability table with its probability, shuffled, up to the budget, never
`[MASK]`; an instance without one gets the 80/10/10 masking, a character of the table then kept with its
probability. FASPell cuts sentences over 100 characters at commas too; that is not reproduced.

The instance builder (instances.document_instances) sees only token lists, so each document token carries
both sides as one int: `correct + vocab_size * (wrong + 1)` where they differ, the plain id where not.
"""
from typing import Dict, Iterable, List, Sequence, Tuple

from bertprep.seeding import rng_for
from bertprep.transforms.pretraining.instances import TokenizedDocument
from bertprep.transforms.pretraining.masking import KEEP, MASK, RANDOM, REAL_ERROR, MaskedInstance

SENTENCE_ENDS = "。；？！"
CLOSING_QUOTES = "」”’"


def _cuts(ids: Sequence[int], ends: frozenset, quotes: frozenset) -> List[int]:
    """Positions after which a sentence ends (FASPell's cut_line), the last position included."""
    cuts = [k for k in range(len(ids) - 1) if ids[k] in ends and ids[k + 1] not in quotes]
    return cuts + [len(ids) - 1]


def _sentences(wrong: Sequence[int], correct: Sequence[int], ends, quotes, vocab_size: int) -> List[List[int]]:
    """The aligned sentences of one document as combined ids; uncut when the two sides cut differently."""
    cuts = _cuts(correct, ends, quotes)
    if cuts != _cuts(wrong, ends, quotes):
        cuts = [len(correct) - 1]
    combined = [c if w == c else c + vocab_size * (w + 1) for w, c in zip(wrong, correct)]
    sentences, start = [], 0
    for cut in cuts:
        sentences.append(combined[start:cut + 1])
        start = cut + 1
    return [sentence for sentence in sentences if sentence]


def pair_documents(pairs: Iterable[Tuple[str, List[int], List[int]]], seed, ends: Iterable[int],
                   quotes: Iterable[int], vocab_size: int) -> List[TokenizedDocument]:
    """FASPell's documents of (key, wrong ids, correct ids) pairs of equal length."""
    ends, quotes = frozenset(ends), frozenset(quotes)
    documents = []
    for key, wrong, correct in pairs:
        copies = [wrong]
        errors = [k for k, (w, c) in enumerate(zip(wrong, correct)) if w != c]
        if errors:
            copies.append(correct)
        rng = rng_for(seed, "faspell-partial", key)
        for corrected in range(1, len(errors)):
            fixed = set(rng.sample(errors, corrected))
            copies.append([correct[k] if k in fixed else w for k, w in enumerate(wrong)])
        for number, copy in enumerate(copies):
            documents.append(TokenizedDocument("%s#%d" % (key, number),
                                               _sentences(copy, correct, ends, quotes, vocab_size)))
    return documents


def mask_instance(tokens: List[int], vocab_size: int, probabilities: Dict[int, float], max_predictions: int,
                  masked_lm_prob: float, mask_id: int, random_ids: Sequence[int], stops: Sequence[int],
                  rng) -> Tuple[List[int], MaskedInstance]:
    """(input ids, predictions) of one instance built from combined ids (module doc)."""
    correct = [token % vocab_size for token in tokens]
    wrong = [token // vocab_size - 1 if token >= vocab_size else token for token in tokens]
    specials = set(stops)
    positions = [k for k in range(len(tokens)) if k not in specials]
    random = rng.random
    output = list(wrong)
    if wrong != correct:
        candidates = [k for k in positions if wrong[k] != correct[k]
                      or (correct[k] in probabilities and random() < probabilities[correct[k]])]
        rng.shuffle(candidates)
        chosen = sorted(candidates[:max_predictions])
        kinds = [REAL_ERROR if wrong[k] != correct[k] else KEEP for k in chosen]
    else:
        rng.shuffle(positions)
        chosen = sorted(positions[:min(max_predictions, max(1, int(round(len(tokens) * masked_lm_prob))))])
        kinds = []
        for k in chosen:
            if random() < 0.8:
                kind, output[k] = MASK, mask_id
            elif random() < 0.5:
                kind = KEEP
            else:
                kind, output[k] = RANDOM, random_ids[int(random() * len(random_ids))]
            if correct[k] in probabilities and random() < probabilities[correct[k]]:
                kind, output[k] = KEEP, correct[k]
            kinds.append(kind)
    return output, MaskedInstance(output, chosen, [correct[k] for k in chosen], kinds)
