"""Instance building: reference semantics of create_pretraining_data.py, SOP/none, full-sentence packing,
and the acceptance check against the reference figures measured on the shared People's Daily corpus."""
import random

import pytest

from bertprep.seeding import rng_for
from bertprep.transforms.pretraining import instances as I

CLS, SEP = 101, 102


def make_documents(count=12, sentences=8, seed=0):
    """Documents whose token ids tell (document, sentence, position): id = 1000000 + 10000*d + 100*s + k."""
    rng = random.Random(seed)
    documents = []
    for d in range(count):
        doc = []
        for s in range(sentences):
            length = rng.randint(1, 30)
            doc.append([1_000_000 + 10_000 * d + 100 * s + k for k in range(length)])
        documents.append(I.TokenizedDocument("doc%02d" % d, doc))
    return documents


def document_of(token):
    return (token - 1_000_000) // 10_000


def segments(instance):
    a = instance.tokens[1:instance.len_a + 1]
    b = instance.tokens[instance.len_a + 2:-1]
    return a, b


def is_contiguous_run(tokens, document):
    flat = [t for sentence in document.sentences for t in sentence]
    if not tokens:
        return False
    start = flat.index(tokens[0])
    return flat[start:start + len(tokens)] == tokens


def test_truncate_pair_shortens_the_longer_segment_until_it_fits():
    rng = random.Random(3)
    a, b = list(range(100)), list(range(200, 230))
    ta, tb, _, _ = I._truncate_pair(a, b, None, None, 50, rng)
    assert len(ta) + len(tb) == 50
    assert (len(ta), len(tb)) == (25, 25)  # the longer one is cut until they tie, then both in turn
    # what is left of a segment is a contiguous run of it, cut at both ends at random
    assert ta == a[ta[0]:ta[0] + len(ta)]
    fronts = [I._truncate_pair(list(range(100)), [1], None, None, 20, random.Random(s))[0][0] for s in range(50)]
    # 81 tokens removed, each from the front or the back with even odds: about 40 from the front
    assert 25 < sum(fronts) / len(fronts) < 55 and len(set(fronts)) > 5


def test_nsp_instances_follow_the_reference_layout():
    documents = make_documents()
    options = I.InstanceOptions(max_seq_length=64, short_seq_prob=0.1)
    labels = []
    for index, document in enumerate(documents):
        for instance in I.document_instances(documents, index, options, rng_for(1, document.key, 0), CLS, SEP):
            tokens = instance.tokens
            assert tokens[0] == CLS and tokens[instance.len_a + 1] == SEP and tokens[-1] == SEP
            assert len(tokens) <= 64
            a, b = segments(instance)
            assert a and b and CLS not in a + b and SEP not in a + b
            assert instance.segment_ids() == [0] * (len(a) + 2) + [1] * (len(b) + 1)
            assert {document_of(t) for t in a} == {index}
            if instance.label == 0:
                # actual next: A then B is one run of the document (truncation only cuts the ends)
                assert {document_of(t) for t in b} == {index}
            else:
                assert document_of(b[0]) != index
                assert is_contiguous_run(b, documents[document_of(b[0])])
            labels.append(instance.label)
    assert 0 < sum(labels) < len(labels)


def test_nsp_puts_unused_sentences_back():
    """With a random B, the chunk's unused sentences start the next chunk: none is skipped in a pass."""
    rng = random.Random(4)
    documents = [I.TokenizedDocument("doc%02d" % d, [[1_000_000 + 10_000 * d + 100 * s + k
                                                      for k in range(rng.randint(6, 9))] for s in range(30)])
                 for d in range(6)]
    options = I.InstanceOptions(max_seq_length=40, short_seq_prob=0.0)
    random_next = 0
    for index, document in enumerate(documents):
        seen = set()
        for instance in I.document_instances(documents, index, options, rng_for(9, document.key, 0), CLS, SEP):
            a, b = segments(instance)
            seen.update((t // 100) for t in a + b if document_of(t) == index)
            random_next += instance.label
        # truncation removes at most a few tokens from segment ends; it rarely takes a whole sentence
        assert len(seen) >= 29
    assert random_next > 10
    assert all(len(s) >= 6 for d in documents for s in d.sentences)


def test_sop_swaps_true_continuations():
    documents = make_documents(seed=7)
    options = I.InstanceOptions(max_seq_length=64, next_sentence="sop")
    labels = []
    for index, document in enumerate(documents):
        for instance in I.document_instances(documents, index, options, rng_for(2, document.key, 0), CLS, SEP):
            a, b = segments(instance)
            assert {document_of(t) for t in a + b} == {index}
            first, second = (b, a) if instance.label == 1 else (a, b)
            assert max(first) < min(second)  # ids grow along the document: order tells the label
            labels.append(instance.label)
    assert 0.3 < sum(labels) / len(labels) < 0.7


def test_single_segment_mode_has_no_pair():
    documents = make_documents(seed=8)
    options = I.InstanceOptions(max_seq_length=32, next_sentence="none", short_seq_prob=0.0)
    for index, document in enumerate(documents):
        for instance in I.document_instances(documents, index, options, rng_for(2, document.key, 0), CLS, SEP):
            assert instance.tokens.count(SEP) == 1 and instance.tokens[-1] == SEP
            assert instance.len_a == len(instance.tokens) - 2 and instance.label == 0
            assert set(instance.segment_ids()) == {0}
            assert len(instance.tokens) <= 32


def test_full_sentences_packing_keeps_every_token_in_order():
    documents = make_documents(count=5, sentences=6, seed=9)
    documents[2].sentences.append(list(range(5_000_000, 5_000_090)))  # longer than a sequence: cut in pieces
    options = I.InstanceOptions(max_seq_length=40, packing="full_sentences", next_sentence="none")
    packed = list(I.pack_full_sentences(documents, options, CLS, SEP))
    stream = []
    for instance in packed:
        assert instance.tokens[0] == CLS and instance.tokens[-1] == SEP and len(instance.tokens) <= 40
        assert instance.label == 0 and set(instance.segment_ids()) == {0}
        stream.extend(t for t in instance.tokens[1:-1] if t != SEP)
    assert stream == [t for d in documents for s in d.sentences for t in s]
    # a [SEP] inside a sequence always sits between two documents
    for instance in packed:
        body = instance.tokens[1:-1]
        for k, token in enumerate(body):
            if token == SEP:
                assert document_of(body[k - 1]) != document_of(body[k + 1])


def test_word_start_flags_travel_with_tokens():
    documents = make_documents(count=4, sentences=6, seed=11)
    for document in documents:
        document.flags = [[(t % 3) == 0 for t in sentence] for sentence in document.sentences]
    options = I.InstanceOptions(max_seq_length=30)
    for index, document in enumerate(documents):
        for instance in I.document_instances(documents, index, options, rng_for(5, document.key, 1), CLS, SEP):
            assert len(instance.flags) == len(instance.tokens)
            for k, (token, flag) in enumerate(zip(instance.tokens, instance.flags)):
                if token in (CLS, SEP) or k in (1, instance.len_a + 2):
                    assert flag  # segments start a word even when truncation cut the word's head
                else:
                    assert flag == ((token % 3) == 0)


def test_split_sentences():
    assert I.split_sentences("第一句。第二句！“引号。”第三句\n\nnext line. Another one") == [
        "第一句。", "第二句！", "“引号。”", "第三句", "next line.", "Another one"]
    assert I.sentences_of(["a", " ", "b"]) == ["a", "b"]
    with pytest.raises(ValueError):
        I.sentences_of({"x": 1})


@pytest.fixture(scope="module")
def reference_runs(shared, zh_vocab):
    """All of zh_peopledaily_docs.txt with the reference settings, through the job's own parts (no Beam):
    through the compiled kernel (the job's default here) and through the plain-Python path. Per path:
    (stats, outcome shares, sha256 of every record in order)."""
    from bertprep.transforms.pretraining import kernel as instance_kernel

    paths = ("compiled", "python") if instance_kernel.available() else ("python",)
    return {path: _reference_run(shared, zh_vocab, path == "compiled") for path in paths}


def _reference_run(shared, zh_vocab, compiled):
    import hashlib

    from bertprep.io.formats import iter_documents
    from bertprep.options.pretraining import PretrainingOptions
    from bertprep.pipelines import pretraining
    from bertprep.seeding import stable_hash
    from bertprep.transforms.pretraining.records import PretrainingStats

    corpus = str(shared / "data" / "corpus" / "zh_peopledaily_docs.txt")
    options = PretrainingOptions(vocab=zh_vocab, max_seq_length=128, max_predictions_per_seq=20, masked_lm_prob=0.15,
                                 short_seq_prob=0.1, dupe_factor=5, seed=12345, reference_compatible=True)
    parts = pretraining.JobParts(options)
    parts.builder.compiled = compiled
    assert parts.builder.uses_kernel == compiled
    buckets = {}
    count = pretraining.num_buckets(len(open(corpus, "rb").read()))
    names = pretraining.source_names(corpus)
    for record in iter_documents(corpus):
        key, record = pretraining.keyed_record(record, names)
        buckets.setdefault(stable_hash("bucket", key) % count, []).append((key, record))
    stats = PretrainingStats(128)
    mask_id = parts.tokenizer.vocab["[MASK]"]
    outcome = {"mask": 0, "kept": 0, "random": 0}
    schema_decode = None
    digest = hashlib.sha256()
    for bucket, records in sorted(buckets.items()):
        documents, pairs, dead = parts.tokenize(records)
        assert not dead and not pairs
        for encoded in parts.builder.passes(bucket, documents, pairs, stats):
            for record in encoded:
                digest.update(record)
            for record in encoded[::10]:  # decode a tenth: outcome shares measured on the written bytes
                if schema_decode is None:
                    from bertprep import schemas
                    schema_decode = schemas.for_kind("pretraining", options.to_config()).decode
                values = schema_decode(record)
                weights = values["masked_lm_weights"]
                for position, label, weight in zip(values["masked_lm_positions"], values["masked_lm_ids"], weights):
                    if weight:
                        token = values["input_ids"][position]
                        outcome["mask" if token == mask_id else "kept" if token == label else "random"] += 1
    return stats.to_dict(), outcome, digest.hexdigest()


def test_both_paths_write_the_same_bytes_on_the_shared_corpus(reference_runs):
    """One random stream, drawn in one order: the kernel and the plain-Python path give identical bytes."""
    if "compiled" not in reference_runs:
        pytest.skip("numba is not installed")
    compiled, python = reference_runs["compiled"], reference_runs["python"]
    assert python[2] == compiled[2]
    assert python[0] == compiled[0]


@pytest.mark.parametrize("path", ["compiled", "python"])
def test_reference_figures_on_the_shared_corpus(reference_runs, path):
    """../shared/README.md: 116,935 instances, mean real length 119.28, 76.7% full, 58.6% random next,
    17.74 predictions per instance, 80.0/10.0/10.0 [MASK]/kept/random."""
    if path not in reference_runs:
        pytest.skip("numba is not installed")
    stats, outcome, _ = reference_runs[path]
    instances = stats["instances"]
    assert abs(instances - 116_935) / 116_935 < 0.01
    assert abs(stats["mean_sequence_length"] - 119.28) / 119.28 < 0.01
    assert abs(stats["full_length_share"] - 0.767) < 0.01
    assert abs(stats["next_sentence_labels"]["1"] / instances - 0.586) < 0.01
    assert abs(stats["mean_predictions_per_instance"] - 17.74) / 17.74 < 0.01
    total = sum(outcome.values())
    assert abs(outcome["mask"] / total - 0.80) < 0.01
    assert abs(outcome["kept"] / total - 0.10) < 0.01
    assert abs(outcome["random"] / total - 0.10) < 0.01
    kinds = stats["masked_position_kinds"]
    assert abs(kinds["mask"] / sum(kinds.values()) - 0.80) < 0.01
