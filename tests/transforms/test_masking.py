"""Masked-LM predictions: budget, 80/10/10, whole words (## groups, jieba words, pre-segmented words),
per-word decisions, special tokens in random replacements, n-grams and weighted selection."""
import collections
import random

import pytest

from bertprep.transforms.pretraining import masking as M

CLS, SEP, MASK_ID, PAD, UNK = 101, 102, 103, 0, 100
VOCAB_SIZE = 2000
SPECIALS = (CLS, SEP, MASK_ID, PAD, UNK)


def make_masker(**options):
    vocab_tokens = ["[PAD]"] + ["[unused%d]" % k for k in range(1, 100)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab_tokens += ["w%d" % k for k in range(len(vocab_tokens), VOCAB_SIZE)]
    random_ids = M.random_replacement_ids(vocab_tokens, SPECIALS)
    weights = options.pop("weights", None)
    return M.Masker(M.MaskingOptions(**options), MASK_ID, (CLS, SEP), VOCAB_SIZE, random_ids, weights, 0.01)


def pair_tokens(rng, len_a=60, len_b=65):
    return [CLS] + [rng.randint(500, 1999) for _ in range(len_a)] + [SEP] + \
        [rng.randint(500, 1999) for _ in range(len_b)] + [SEP]


def test_budget_and_positions_follow_the_reference():
    assert M.num_to_predict(128, M.MaskingOptions()) == 19
    assert M.num_to_predict(3, M.MaskingOptions()) == 1
    assert M.num_to_predict(500, M.MaskingOptions()) == 20
    masker = make_masker(reference_compatible=True)
    rng = random.Random(1)
    for length in (5, 40, 128):
        tokens = pair_tokens(rng, length // 2 - 2, length - length // 2 - 1)
        assert len(tokens) == length
        masked = masker.mask(tokens, None, rng)
        assert len(masked.positions) == M.num_to_predict(length, masker.options)
        assert masked.positions == sorted(set(masked.positions))
        assert all(tokens[p] not in (CLS, SEP) for p in masked.positions)
        assert masked.labels == [tokens[p] for p in masked.positions]
        unchanged = set(range(length)) - set(masked.positions)
        assert all(masked.tokens[p] == tokens[p] for p in unchanged)


def test_replacement_shares_are_80_10_10():
    masker = make_masker()
    rng = random.Random(2)
    counts = collections.Counter()
    for _ in range(600):
        tokens = pair_tokens(rng)
        masked = masker.mask(tokens, None, rng)
        for position, label, kind in zip(masked.positions, masked.labels, masked.kinds):
            counts[M.KIND_NAMES[kind]] += 1
            out = masked.tokens[position]
            if kind == M.MASK:
                assert out == MASK_ID
            elif kind == M.KEEP:
                assert out == label
            else:
                assert out not in SPECIALS
    total = sum(counts.values())
    assert abs(counts["mask"] / total - 0.8) < 0.02
    assert abs(counts["keep"] / total - 0.1) < 0.02
    assert abs(counts["random"] / total - 0.1) < 0.02


def test_random_replacements_draw_specials_only_in_reference_mode():
    tokens = [CLS] + [700] * 120 + [SEP]
    drawn = {True: set(), False: set()}
    for reference in (True, False):
        masker = make_masker(reference_compatible=reference, masked_lm_prob=1.0, max_predictions_per_seq=120)
        rng = random.Random(3)
        for _ in range(150):
            masked = masker.mask(tokens, None, rng)
            drawn[reference].update(masked.tokens[p] for p, k in zip(masked.positions, masked.kinds) if k == M.RANDOM)
    assert drawn[True] & set(range(0, 104))  # the original may draw [PAD], [unusedN], [CLS]...
    assert not drawn[False] & set(range(0, 104))


def word_groups(flags, tokens):
    groups, current = [], []
    for k, (flag, token) in enumerate(zip(flags, tokens)):
        if token in (CLS, SEP):
            if current:
                groups.append(current)
            current = []
            continue
        if flag and current:
            groups.append(current)
            current = []
        current.append(k)
    if current:
        groups.append(current)
    return groups


@pytest.mark.parametrize("reference", [False, True])
def test_whole_word_masking_never_splits_a_word(reference):
    rng = random.Random(4)
    masker = make_masker(whole_word=True, reference_compatible=reference)
    per_word_kinds = []
    for _ in range(300):
        tokens = pair_tokens(rng)
        flags = [True] + [rng.random() < 0.4 for _ in tokens[1:]]
        masked = masker.mask(tokens, flags, rng)
        predicted = dict(zip(masked.positions, masked.kinds))
        assert len(predicted) <= M.num_to_predict(len(tokens), masker.options)
        for group in word_groups(flags, tokens):
            inside = [k in predicted for k in group]
            assert all(inside) or not any(inside), "a word was split"
            if all(inside) and len(group) > 1:
                per_word_kinds.append(len({predicted[k] for k in group}) == 1)
    if reference:
        assert not all(per_word_kinds)  # per-piece decisions: some words get mixed kinds (bert issue 910)
    else:
        assert all(per_word_kinds)  # one decision per word


def test_wordpiece_groups_from_a_real_tokenizer(en_vocab):
    from bertprep.transforms.pretraining.instances import DocumentTokenizer
    from bertprep.transforms.tokenization.tokenizer import load_tokenizer

    tokenizer = load_tokenizer(vocab=en_vocab)
    document = DocumentTokenizer(tokenizer, "pieces")("doc", ["unaffable tokenization of hyperparameters is "
                                                              "embarrassingly underappreciated"])
    tokens = tokenizer.convert_ids_to_tokens(document.sentences[0])
    assert any(t.startswith("##") for t in tokens)
    assert document.flags[0] == [not t.startswith("##") for t in tokens]


def test_jieba_whole_word_masking_never_splits_a_jieba_word(zh_vocab):
    import jieba

    from bertprep.transforms.pretraining.instances import DocumentTokenizer
    from bertprep.transforms.tokenization.tokenizer import load_tokenizer

    tokenizer = load_tokenizer(vocab=zh_vocab)
    sentence = "中华人民共和国成立于1949年，人工智能研究院正在招聘自然语言处理工程师。"
    document = DocumentTokenizer(tokenizer, "jieba")("doc", [sentence])
    ids, flags = document.sentences[0], document.flags[0]
    assert ids == tokenizer.convert_tokens_to_ids(tokenizer.tokenize(sentence))  # same tokens as without words
    tokens = tokenizer.convert_ids_to_tokens(ids)
    assert not any(t.startswith("##") and len(t) == 3 and "\u4e00" <= t[2] <= "\u9fff" for t in tokens)
    # Each multi-character jieba word of Chinese characters is exactly one group.
    words = [w for w in jieba.Tokenizer().lcut(sentence)]
    padded = ["[CLS]"] + tokens + ["[SEP]"]
    groups = [[padded[k] for k in g] for g in word_groups([True] + flags + [True], [CLS] + ids + [SEP])]
    group_texts = ["".join(g) for g in groups]
    for word in words:
        if len(word) > 1 and all("\u4e00" <= c <= "\u9fff" for c in word):
            assert word in group_texts
    # and masking over those flags never splits one
    masker = make_masker(whole_word=True, masked_lm_prob=0.5, max_predictions_per_seq=40)
    rng = random.Random(5)
    full = [CLS] + ids + [SEP]
    full_flags = [True] + flags + [True]
    for _ in range(100):
        predicted = set(masker.mask(full, full_flags, rng).positions)
        for group in word_groups(full_flags, full):
            inside = [k in predicted for k in group]
            assert all(inside) or not any(inside)


def test_presegmented_words_are_groups(zh_vocab):
    from bertprep.transforms.pretraining.instances import DocumentTokenizer
    from bertprep.transforms.tokenization.tokenizer import load_tokenizer

    tokenizer = load_tokenizer(vocab=zh_vocab)
    document = DocumentTokenizer(tokenizer, "presegmented")("doc", ["我们 喜欢 自然语言 处理 。"])
    assert document.flags[0] == [True, False, True, False, True, False, False, False, True, False, True]


def test_ngram_spans_are_contiguous_and_within_budget():
    masker = make_masker(max_ngram=3)
    rng = random.Random(6)
    lengths = collections.Counter()
    for _ in range(300):
        tokens = pair_tokens(rng)
        chosen = masker.choose(tokens, None, rng)
        total = sum(len(span) for span in chosen)
        assert total <= M.num_to_predict(len(tokens), masker.options)
        for span in chosen:
            assert span == list(range(span[0], span[0] + len(span)))
            assert all(tokens[k] not in (CLS, SEP) for k in span)
            lengths[len(span)] += 1
    assert lengths[1] > lengths[2] > lengths[3] > 0


def test_weighted_selection_prefers_heavy_tokens():
    heavy, light = 900, 901
    masker = make_masker(weights={heavy: 1.0, light: 0.01})
    rng = random.Random(7)
    picked = collections.Counter()
    for _ in range(200):
        tokens = [CLS] + [heavy, light] * 30 + [SEP]
        masked = masker.mask(tokens, None, rng)
        picked.update(masked.labels)
    assert picked[heavy] > 10 * picked[light]


def test_same_generator_same_masks():
    masker = make_masker(whole_word=True)
    tokens = pair_tokens(random.Random(8))
    flags = [True] + [k % 3 == 0 for k in range(1, len(tokens))]
    first = masker.mask(tokens, flags, random.Random(42))
    second = masker.mask(tokens, flags, random.Random(42))
    assert (first.tokens, first.positions, first.kinds) == (second.tokens, second.positions, second.kinds)
