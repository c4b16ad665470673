import numpy as np
import pytest

from bertprep import schemas
from bertprep.errors import BertprepError

PRETRAINING_CONFIG = {"max_seq_length": 8, "max_predictions_per_seq": 3}


def _pretraining_record():
    return {
        "input_ids": [101, 5, 70000, 102, 0, 0, 0, 0], "input_mask": [1, 1, 1, 1, 0, 0, 0, 0],
        "segment_ids": [0] * 8, "masked_lm_positions": [1, 2, 0], "masked_lm_ids": [3, 4, 0],
        "masked_lm_weights": [1.0, 1.0, 0.0], "next_sentence_labels": [1],
    }


def test_encode_matches_tensorflow_deterministic_serialization():
    tf = pytest.importorskip("tensorflow")
    schema = schemas.for_kind("pretraining", PRETRAINING_CONFIG)
    record = _pretraining_record()
    features = {}
    for name, values in record.items():
        if name == "masked_lm_weights":
            features[name] = tf.train.Feature(float_list=tf.train.FloatList(value=values))
        else:
            features[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=values))
    expected = tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString(deterministic=True)
    assert schema.encode(record) == expected


def test_tf_parser_reads_what_the_schema_writes_with_declared_shapes():
    tf = pytest.importorskip("tensorflow")
    schema = schemas.for_kind("classifier", {"max_seq_length": 4, "multi_label": True, "num_labels": 5})
    record = {"input_ids": [1, 2, 3, 0], "input_mask": [1, 1, 1, 0], "segment_ids": [0, 0, 0, 0],
              "label_ids": [0, 1, 0, 0, 1], "is_real_example": 1, "example_id": 7}
    parsed = tf.io.parse_example(tf.constant([schema.encode(record)] * 2), schema.tf_feature_spec())
    assert parsed["label_ids"].shape == (2, 5)
    assert parsed["example_id"].shape == (2,)
    assert parsed["label_ids"].numpy()[1].tolist() == [0, 1, 0, 0, 1]


def test_decode_round_trip_and_negative_values():
    schema = schemas.for_kind("squad_train", {"max_seq_length": 3})
    record = {"unique_id": 1000000000, "input_ids": [1, 2, 3], "input_mask": [1, 1, 1], "segment_ids": [0, 1, 1],
              "start_positions": -1, "end_positions": 2 ** 40, "is_impossible": 0}
    decoded = schema.decode(schema.encode(record))
    assert decoded["start_positions"] == -1
    assert decoded["end_positions"] == 2 ** 40
    assert decoded["segment_ids"].tolist() == [0, 1, 1]


def test_encode_rejects_wrong_length_naming_feature():
    schema = schemas.for_kind("pretraining", PRETRAINING_CONFIG)
    record = _pretraining_record()
    record["input_ids"] = record["input_ids"][:5]
    with pytest.raises(BertprepError, match="input_ids.*5 values.*8"):
        schema.encode(record)


def test_reading_data_of_another_length_names_feature_and_both_lengths():
    written = schemas.for_kind("pretraining", {"max_seq_length": 128, "max_predictions_per_seq": 20})
    wanted = schemas.for_kind("pretraining", {"max_seq_length": 512, "max_predictions_per_seq": 20})
    with pytest.raises(BertprepError) as error:
        wanted.check_compatible(written)
    message = str(error.value)
    assert "input_ids" in message and "128" in message and "512" in message
    record = {name: np.zeros(f.length) for name, f in zip(written.names, written.features)}
    record["masked_lm_weights"] = np.zeros(20, dtype=np.float32)
    with pytest.raises(BertprepError, match="length 128 in the data but 512"):
        wanted.decode(written.encode(record))


def test_schema_json_round_trip_is_equal():
    schema = schemas.for_kind("tagging", {"max_seq_length": 16})
    assert schemas.RecordSchema.from_json(schema.to_json()) == schema


def test_unknown_kind_and_missing_config_are_clear_errors():
    with pytest.raises(BertprepError, match="unknown record kind"):
        schemas.for_kind("nope", {})
    with pytest.raises(BertprepError, match="max_seq_length"):
        schemas.for_kind("classifier", {})
