"""The compiled kernel (instance_kernel.py): the same instance layout, masking rules and Example bytes as the
plain-Python path, checked instance by instance on documents whose token ids tell where they came from."""
import random

import numpy as np
import pytest

from bertprep import schemas
from bertprep.seeding import stable_hash
from bertprep.transforms.pretraining import kernel as instance_kernel
from bertprep.transforms.pretraining import instances as I
from bertprep.transforms.pretraining.masking import KEEP, MASK, RANDOM, MaskedInstance, MaskingOptions, num_to_predict
from bertprep.transforms.pretraining.records import (BucketArrays, CompiledEncoder, PassArrays, PretrainingEncoder,
                                                     compile_kernel)
from oracles import features_of

pytestmark = pytest.mark.skipif(not instance_kernel.available(), reason="numba is not installed")

CLS, SEP, MASK_ID, UNK = 101, 102, 103, 100
RANDOM_IDS = np.arange(200, 260, dtype=np.int32)


def make_documents(count=12, sentences=8, seed=0, shortest=1, longest=30):
    """Token ids tell (document, sentence, position): id = 1000000 + 10000*d + 100*s + k."""
    rng = random.Random(seed)
    return [I.TokenizedDocument("doc%02d" % d, [[1_000_000 + 10_000 * d + 100 * s + k
                                                 for k in range(rng.randint(shortest, longest))]
                                                for s in range(sentences)])
            for d in range(count)]


def document_of(token):
    return (token - 1_000_000) // 10_000


def run_pass(documents, mode="nsp", max_seq_length=64, short_seq_prob=0.1, max_predictions=10, pass_index=0,
             masked_lm_prob=0.15, seed=1):
    arrays = BucketArrays(sorted(documents, key=lambda document: document.key))
    seeds = np.array([stable_hash(seed, key, pass_index) for key in arrays.keys], dtype=np.uint64)
    options = MaskingOptions(masked_lm_prob, max_predictions)
    budgets = np.array([num_to_predict(k, options) for k in range(max_seq_length + 1)], np.int64)
    out = PassArrays(arrays.sentences, max_seq_length, max_predictions)
    n = instance_kernel.build_pass(arrays.tokens, arrays.sentence_starts, arrays.document_starts, seeds,
                                   instance_kernel.MODES[mode], max_seq_length, short_seq_prob, CLS, SEP, UNK,
                                   MASK_ID, RANDOM_IDS, budgets, out.ids, out.length, out.len_a, out.label,
                                   out.positions, out.label_ids, out.kinds, out.count, out.unk)
    instances = []
    for k in range(n):
        length, count = int(out.length[k]), int(out.count[k])
        masked = out.ids[k, :length].tolist()
        positions = out.positions[k, :count].tolist()
        labels = out.label_ids[k, :count].tolist()
        original = list(masked)
        for position, label in zip(positions, labels):
            original[position] = label
        instances.append({"masked": masked, "tokens": original, "len_a": int(out.len_a[k]),
                          "label": int(out.label[k]), "positions": positions, "labels": labels,
                          "kinds": out.kinds[k, :count].tolist(), "unk": int(out.unk[k]),
                          "padding": out.ids[k, length:].tolist()})
    return instances, out, n


def segments(instance):
    tokens, len_a = instance["tokens"], instance["len_a"]
    return tokens[1:len_a + 1], tokens[len_a + 2:-1]


def test_nsp_layout_and_label_meaning():
    documents = make_documents()
    instances, _, _ = run_pass(documents)
    labels = []
    for instance in instances:
        tokens = instance["tokens"]
        assert tokens[0] == CLS and tokens[instance["len_a"] + 1] == SEP and tokens[-1] == SEP
        assert len(tokens) <= 64 and set(instance["padding"]) <= {0}
        a, b = segments(instance)
        assert a and b and CLS not in a + b and SEP not in a + b
        home = {document_of(t) for t in a}
        assert len(home) == 1
        if instance["label"] == 0:
            # the true continuation: B follows A in the same document (ids grow along a document)
            assert {document_of(t) for t in b} == home and max(a) < min(b)
        else:
            assert document_of(b[0]) != document_of(a[0])
        labels.append(instance["label"])
    assert 0.3 < sum(labels) / len(labels) < 0.8


def test_unused_sentences_are_put_back():
    documents = make_documents(count=6, sentences=30, seed=4, shortest=6, longest=9)
    instances, _, _ = run_pass(documents, max_seq_length=40, short_seq_prob=0.0, seed=9)
    seen = {d: set() for d in range(6)}
    for instance in instances:
        a, b = segments(instance)
        home = document_of(a[0])
        seen[home].update(t // 100 for t in a + b if document_of(t) == home)
    assert all(len(sentences) >= 29 for sentences in seen.values())
    assert sum(instance["label"] for instance in instances) > 10


def test_sop_and_single_segment_modes():
    documents = make_documents(seed=7)
    instances, _, _ = run_pass(documents, mode="sop")
    for instance in instances:
        a, b = segments(instance)
        assert len({document_of(t) for t in a + b}) == 1
        first, second = (b, a) if instance["label"] == 1 else (a, b)
        assert max(first) < min(second)
    assert 0 < sum(i["label"] for i in instances) < len(instances)
    single, _, _ = run_pass(documents, mode="none")
    for instance in single:
        assert instance["len_a"] == len(instance["tokens"]) - 2 and instance["label"] == 0
        assert instance["tokens"].count(SEP) == 1 and len(instance["tokens"]) <= 64


def test_masking_rules():
    documents = make_documents(count=20, sentences=10, longest=40)
    documents[3].sentences[0][:3] = [UNK, UNK, UNK]
    instances, _, _ = run_pass(documents, max_predictions=12, masked_lm_prob=0.2)
    kinds = []
    for instance in instances:
        tokens, masked, positions = instance["tokens"], instance["masked"], instance["positions"]
        specials = {0, instance["len_a"] + 1, len(tokens) - 1}
        assert len(positions) == min(12, max(1, round(len(tokens) * 0.2)), len(tokens) - 3)
        assert positions == sorted(set(positions)) and not specials & set(positions)
        for position, kind in zip(positions, instance["kinds"]):
            if kind == MASK:
                assert masked[position] == MASK_ID
            elif kind == KEEP:
                assert masked[position] == tokens[position]
            else:
                assert kind == RANDOM and masked[position] in RANDOM_IDS
        untouched = [k for k in range(len(tokens)) if k not in positions]
        assert [masked[k] for k in untouched] == [tokens[k] for k in untouched]
        assert instance["unk"] == tokens.count(UNK)
        kinds += instance["kinds"]
    assert sum(i["unk"] for i in instances) >= 3
    shares = [kinds.count(kind) / len(kinds) for kind in (MASK, KEEP, RANDOM)]
    assert abs(shares[0] - 0.8) < 0.05 and abs(shares[1] - 0.1) < 0.04 and abs(shares[2] - 0.1) < 0.04


def test_draws_depend_on_seed_key_and_pass_only():
    documents = make_documents()
    first, _, _ = run_pass(documents)
    again, _, _ = run_pass(list(reversed(documents)))
    assert first == again  # arrival order does not matter
    other_pass, _, _ = run_pass(documents, pass_index=1)
    other_seed, _, _ = run_pass(documents, seed=2)
    assert first != other_pass and first != other_seed


@pytest.mark.parametrize("max_seq_length,max_predictions", [(64, 10), (128, 20), (512, 80)])
def test_kernel_bytes_equal_the_python_encoder(max_seq_length, max_predictions):
    documents = make_documents(count=10, sentences=12, longest=90)
    for document in documents[:3]:  # small ids: one-byte varints, and positions beside multi-byte ids
        document.sentences[0] = [k % 120 + 1 for k in range(len(document.sentences[0]))]
    instances, out, n = run_pass(documents, max_seq_length=max_seq_length, max_predictions=max_predictions)
    encoder = PretrainingEncoder(max_seq_length, max_predictions)
    records = CompiledEncoder(encoder).encode(out, n)
    schema = schemas.for_kind("pretraining", {"max_seq_length": max_seq_length,
                                              "max_predictions_per_seq": max_predictions})
    assert n == len(records) > 10
    for instance, record in zip(instances, records):
        expected = encoder.encode_lists(instance["masked"], len(instance["tokens"]), instance["len_a"],
                                        instance["label"], instance["positions"], instance["labels"])
        assert record == expected
        # and the one definition of the bytes: the schema's encoder (example_codec) on the plain features
        masked = MaskedInstance(instance["masked"], instance["positions"], instance["labels"], instance["kinds"])
        assert record == schema.encode(features_of(instance["tokens"], instance["len_a"], instance["label"], masked,
                                                   max_seq_length, max_predictions))
        decoded = schema.decode(record)
        assert list(decoded["input_ids"][:len(instance["masked"])]) == instance["masked"]


def test_compile_kernel_runs_a_tiny_bucket_through_it():
    """What the Dockerfile runs to warm numba's cache: two documents, one pass, records out."""
    assert compile_kernel() >= 2


def test_the_kernel_draws_the_python_stream():
    """instance_kernel._random and seeding.SplitMix64 are one stream (the published SplitMix64 outputs)."""
    from bertprep.seeding import SplitMix64

    for seed in (0, 1, 12345, (1 << 64) - 1, stable_hash(12345, "docs.txt:1", 0)):
        stream = SplitMix64(seed)
        state = np.array([seed], np.uint64)
        assert [stream.random() for _ in range(3000)] == [instance_kernel._random(state) for _ in range(3000)]
    # Steele, Lea and Flood's generator from seed 0 starts 0xe220a8397b1dcdaf: its top 53 bits
    assert SplitMix64(0).random() == (0xE220A8397B1DCDAF >> 11) / 2.0 ** 53
    stream, state = SplitMix64(7), np.array([7], np.uint64)
    assert [stream.randint(2, 125) for _ in range(500)] == [instance_kernel._randint(state, 2, 125)
                                                             for _ in range(500)]


SLICE_DOCUMENTS = 1000


@pytest.fixture(scope="module")
def slice_records(shared):
    """The first 1,000 documents of the shared People's Daily corpus as (key, record), as the job keys them."""
    import itertools

    from bertprep.io.formats import iter_documents
    from bertprep.pipelines import pretraining

    corpus = str(shared / "data" / "corpus" / "zh_peopledaily_docs.txt")
    names = pretraining.source_names(corpus)
    return [pretraining.keyed_record(record, names)
            for record in itertools.islice(iter_documents(corpus), SLICE_DOCUMENTS)]


def build_all(options, records, compiled, buckets=4):
    """Every pass of every bucket through the job's own parts: (records per bucket and pass, stats)."""
    from bertprep.pipelines import pretraining
    from bertprep.transforms.pretraining.records import PretrainingStats

    parts = pretraining.JobParts(options)
    parts.builder.compiled = compiled
    assert parts.builder.uses_kernel == compiled
    by_bucket = {}
    for key, record in records:
        by_bucket.setdefault(stable_hash("bucket", key) % buckets, []).append((key, record))
    stats = PretrainingStats(options.max_seq_length)
    written = []
    for bucket, items in sorted(by_bucket.items()):
        documents, pairs, dead = parts.tokenize(sorted(items, key=lambda item: item[0]))
        written.extend(parts.builder.passes(bucket, documents, pairs, stats))
    return written, stats.to_dict()


@pytest.mark.parametrize("options", [
    {"reference_compatible": True},
    {"next_sentence": "sop", "max_seq_length": 64, "max_predictions_per_seq": 10, "short_seq_prob": 0.3},
    {"next_sentence": "none", "masked_lm_prob": 0.2},
])
def test_python_path_and_kernel_write_the_same_bytes(slice_records, zh_vocab, options):
    """The configuration the kernel covers gives the same bytes, record for record, with or without numba."""
    from bertprep.options.pretraining import PretrainingOptions

    job_options = PretrainingOptions(**dict({"vocab": zh_vocab, "max_seq_length": 128, "max_predictions_per_seq": 20,
                                             "masked_lm_prob": 0.15, "short_seq_prob": 0.1, "dupe_factor": 2,
                                             "seed": 12345}, **options))
    compiled, compiled_stats = build_all(job_options, slice_records, compiled=True)
    python, python_stats = build_all(job_options, slice_records, compiled=False)
    assert sum(len(records) for records in compiled) > 3000
    assert [len(records) for records in python] == [len(records) for records in compiled]
    assert python == compiled
    assert python_stats == compiled_stats
