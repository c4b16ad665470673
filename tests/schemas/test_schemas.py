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


def test_every_kind_is_one_a_job_writes():
    """A kind is a TFRecord layout some job writes; embed writes Parquet (schemas/tables.py), so there is
    no "embeddings" record kind to mistake for its output."""
    assert sorted(schemas.KINDS) == ["classifier", "pretraining", "squad_eval", "squad_train", "tagging"]
    with pytest.raises(BertprepError, match="unknown record kind 'embeddings'"):
        schemas.for_kind("embeddings", {"embedding_dim": 8})


def test_table_layouts_are_the_columns_the_writers_write(tmp_path):
    """Each Parquet layout of schemas/tables.py is what its writer puts in the file."""
    import io

    import pyarrow.parquet as parquet

    from bertprep.pipelines import embed
    from bertprep.schemas import tables
    from bertprep.io.formats import mask_probs_tables, squad_side_files

    assert embed.parquet_schema(4, "float16") == tables.embeddings_table(4, "float16")
    assert tables.embeddings_table(4).names == ["id", "source", "embedding"]
    row = {"char": "中", "correct_count": 1, "unchanged_count": 1, "written_wrong_count": 0, "as_wrong_count": 0,
           "deleted_count": 0, "inserted_count": 0, "faspell_unchanged_count": 1}
    written = mask_probs_tables.table_bytes("char_stats", [row])["char_stats.parquet"]
    assert parquet.read_schema(io.BytesIO(written)) == tables.mask_probs_table("char_stats")
    example = {"example_index": 0, "qas_id": "q", "question_text": "?", "context": "c", "doc_tokens": ["c"],
               "word_spans": [[0, 1]], "answers": [], "is_impossible": False, "title": "", "source": "s", "line": 1}
    written = squad_side_files.parquet_bytes([example], squad_side_files.SIDE_EXAMPLES)
    assert parquet.read_schema(io.BytesIO(written)).names == tables.squad_side_examples_table().names
