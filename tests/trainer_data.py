"""Tiny datasets and configs for the trainer tests, written with the schemas and the output protocol."""
import json
import os

import numpy as np

from bertprep import schemas
from bertprep.io.output import ShardWriter
from bertprep.seeding import numpy_rng_for
from bertprep.trainer.config import BertConfig

TINY = dict(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
            max_position_embeddings=64, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
CLS, SEP, MASK = 1, 2, 3


def tiny_config(**overrides) -> BertConfig:
    return BertConfig(**{**TINY, **overrides})


def write_bert_config(directory, config: BertConfig, google_style=True) -> str:
    data = config.to_dict()
    if google_style:
        data["hidden_act"] = "gelu"
        data.pop("layer_norm_eps")
    path = os.path.join(directory, "bert_config.json")
    with open(path, "w") as handle:
        json.dump(data, handle)
    return path


def write_dataset(directory, kind, config, records, extra_info=None, num_shards=1):
    """Records → shards + info.json + _COMPLETE, as a bertprep job lays them out."""
    os.makedirs(directory, exist_ok=True)
    schema = schemas.for_kind(kind, config)
    writers = [ShardWriter(os.path.join(directory, "%s-%05d-of-%05d.tfrecord" % (kind, i, num_shards)))
               for i in range(num_shards)]
    count = 0
    for index, record in enumerate(records):
        writers[index % num_shards].write(schema.encode(record))
        count += 1
    shards = [writer.close() for writer in writers]
    info = {"kind": kind, "schema": schema.to_json(), "config": dict(config), "counts": {"records_out": count},
            "shards": [{"file": os.path.basename(s["path"]), "records": s["records"]} for s in shards]}
    info.update(extra_info or {})
    with open(os.path.join(directory, "info.json"), "w") as handle:
        json.dump(info, handle)
    with open(os.path.join(directory, "_COMPLETE"), "w") as handle:
        handle.write("{}")
    return directory


def pretraining_records(count, seq_length=32, predictions=5, seed=1):
    """Sequences of consecutive ids (a learnable 'language'); every 2nd record's B part is random (NSP=1)."""
    for index in range(count):
        rng = numpy_rng_for(seed, "pretraining", index)
        length = int(rng.integers(seq_length // 2, seq_length + 1))
        start = int(rng.integers(10, 60))
        body = [10 + (start + i - 10) % 90 for i in range(length - 3)]
        half = len(body) // 2
        random_next = index % 2
        if random_next:
            other = int(rng.integers(10, 60))
            body = body[:half] + [10 + (other + i) % 90 for i in range(len(body) - half)]
        tokens = [CLS] + body[:half] + [SEP] + body[half:] + [SEP]
        segments = [0] * (half + 2) + [1] * (len(body) - half + 1)
        candidates = [i for i, t in enumerate(tokens) if t not in (CLS, SEP)]
        chosen = sorted(rng.choice(candidates, size=min(predictions, len(candidates)), replace=False).tolist())
        masked_ids = [tokens[i] for i in chosen]
        input_ids = list(tokens)
        for position in chosen:
            input_ids[position] = MASK
        pad = seq_length - len(tokens)
        missing = predictions - len(chosen)
        yield {
            "input_ids": input_ids + [0] * pad,
            "input_mask": [1] * len(tokens) + [0] * pad,
            "segment_ids": segments + [0] * pad,
            "masked_lm_positions": chosen + [0] * missing,
            "masked_lm_ids": masked_ids + [0] * missing,
            "masked_lm_weights": [1.0] * len(chosen) + [0.0] * missing,
            "next_sentence_labels": [random_next],
        }


def classifier_records(count, seq_length=16, seed=2):
    """Label 1 when the sentence holds token 7, else 0 (every token otherwise from 10..99)."""
    for index in range(count):
        rng = numpy_rng_for(seed, "classifier", index)
        length = int(rng.integers(4, seq_length - 1))
        body = rng.integers(10, 100, size=length).tolist()
        label = index % 2
        if label:
            body[int(rng.integers(0, length))] = 7
        tokens = [CLS] + body + [SEP]
        pad = seq_length - len(tokens)
        yield {"input_ids": tokens + [0] * pad, "input_mask": [1] * len(tokens) + [0] * pad,
               "segment_ids": [0] * seq_length, "label_ids": label, "is_real_example": 1, "example_id": index}


def random_features(batch, seq_length, vocab_size, seed=3):
    rng = np.random.default_rng(seed)
    ids = rng.integers(4, vocab_size, size=(batch, seq_length)).astype("int32")
    mask = np.ones((batch, seq_length), "int32")
    mask[:, seq_length * 3 // 4:] = 0
    segments = np.zeros((batch, seq_length), "int32")
    segments[:, seq_length // 2:] = 1
    return {"input_ids": ids, "input_mask": mask, "segment_ids": segments}


def uninformative_records(count, seq_length=16):
    """The same sentence for every record, labels alternating 0/1: no model can do better than the label prior."""
    tokens = [CLS] + list(range(10, 20)) + [SEP]
    pad = seq_length - len(tokens)
    for index in range(count):
        yield {"input_ids": tokens + [0] * pad, "input_mask": [1] * len(tokens) + [0] * pad,
               "segment_ids": [0] * seq_length, "label_ids": index % 2, "is_real_example": 1, "example_id": index}


def tagging_records(count, seq_length=16, seed=4):
    """Words are single pieces; token 7 followed by 8 is a PER entity (tags O=0, B-PER=1, I-PER=2)."""
    for index in range(count):
        rng = numpy_rng_for(seed, "tagging", index)
        length = int(rng.integers(6, seq_length - 2))
        body = rng.integers(10, 100, size=length).tolist()
        tags = [0] * length
        if index % 2:
            start = int(rng.integers(0, length - 1))
            body[start:start + 2] = [7, 8]
            tags[start:start + 2] = [1, 2]
        tokens = [CLS] + body + [SEP]
        pad = seq_length - len(tokens)
        yield {"input_ids": tokens + [0] * pad, "input_mask": [1] * len(tokens) + [0] * pad,
               "segment_ids": [0] * seq_length, "label_ids": [0] + tags + [0] * (pad + 1),
               "label_weights": [0.0] + [1.0] * length + [0.0] * (pad + 1), "example_id": 100 + index}
