"""The record kinds bertprep writes, with lengths taken from the job configuration.

Names follow google-research/bert's writers (`create_pretraining_data.py`, `run_classifier.py`,
`run_squad.py`) so models and scripts written for those records read ours unchanged.
"""
from bertprep.errors import BertprepError
from bertprep.schemas.example_codec import FLOAT32, INT64
from bertprep.schemas.schema import Feature, RecordSchema


def _require(config, key):
    try:
        value = int(config[key])
    except (KeyError, TypeError, ValueError):
        raise BertprepError("the configuration needs an integer %r" % key) from None
    if value <= 0:
        raise BertprepError("%s must be positive, got %d" % (key, value))
    return value


def _sequence_features(length):
    return [
        Feature("input_ids", INT64, (length,), "token ids, zero padded"),
        Feature("input_mask", INT64, (length,), "1 for real tokens, 0 for padding"),
        Feature("segment_ids", INT64, (length,), "0 for segment A, 1 for segment B"),
    ]


def pretraining(config):
    length = _require(config, "max_seq_length")
    predictions = _require(config, "max_predictions_per_seq")
    return _sequence_features(length) + [
        Feature("masked_lm_positions", INT64, (predictions,), "positions of predicted tokens, zero padded"),
        Feature("masked_lm_ids", INT64, (predictions,), "original token ids at those positions"),
        Feature("masked_lm_weights", FLOAT32, (predictions,), "1.0 for real predictions, 0.0 for padding"),
        Feature("next_sentence_labels", INT64, (1,), "1 when segment B is random (NSP) or swapped (SOP)"),
    ]


def classifier(config):
    length = _require(config, "max_seq_length")
    label_type = config.get("label_type", "int")
    if config.get("multi_label"):
        labels = Feature("label_ids", INT64, (_require(config, "num_labels"),), "multi-hot label vector")
    elif label_type == "float":
        labels = Feature("label_ids", FLOAT32, (), "regression target")
    else:
        labels = Feature("label_ids", INT64, (), "label index")
    return _sequence_features(length) + [
        labels,
        Feature("is_real_example", INT64, (), "0 for padding examples added to fill a batch"),
        Feature("example_id", INT64, (), "deterministic id of the input record"),
    ]


def squad_train(config):
    return [Feature("unique_id", INT64, (), "feature id")] + _sequence_features(_require(config, "max_seq_length")) + [
        Feature("start_positions", INT64, (), "answer start token, 0 when outside the window"),
        Feature("end_positions", INT64, (), "answer end token, 0 when outside the window"),
        Feature("is_impossible", INT64, (), "1 when the question has no answer (SQuAD 2.0), in every window"),
    ]


def squad_eval(config):
    return [Feature("unique_id", INT64, (), "feature id; joins the side file")] + _sequence_features(
        _require(config, "max_seq_length"))


def tagging(config):
    length = _require(config, "max_seq_length")
    return _sequence_features(length) + [
        Feature("label_ids", INT64, (length,), "tag id on each word's first piece"),
        Feature("label_weights", FLOAT32, (length,), "1.0 on a word's first piece, else 0.0"),
        Feature("example_id", INT64, (), "deterministic id of the input sentence"),
    ]


KINDS = {
    "pretraining": pretraining,
    "classifier": classifier,
    "squad_train": squad_train,
    "squad_eval": squad_eval,
    "tagging": tagging,
}
# The embed job writes Parquet, not TFRecords: its columns are schemas/tables.py's embeddings_table.

# Only these configuration keys shape a schema; recording just them keeps schemas comparable.
_SHAPING_KEYS = ("max_seq_length", "max_predictions_per_seq", "num_labels", "multi_label", "label_type")


def for_kind(kind: str, config: dict) -> RecordSchema:
    """The schema of `kind` for this configuration."""
    if kind not in KINDS:
        raise BertprepError("unknown record kind %r (known: %s)" % (kind, ", ".join(sorted(KINDS))))
    features = KINDS[kind](config)
    shaping = tuple(sorted((k, config[k]) for k in _SHAPING_KEYS if k in config and config[k] is not None))
    return RecordSchema(kind, tuple(features), shaping)
