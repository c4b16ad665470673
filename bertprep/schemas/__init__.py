"""The single source of truth for every record kind's features.

    schema = schemas.for_kind("pretraining", {"max_seq_length": 128, "max_predictions_per_seq": 20})
    data = schema.encode(features)            # writers
    spec = schema.tf_feature_spec()           # the trainer's tf.data parser
    schemas.RecordSchema.from_json(info["schema"]).check_compatible(schema)
"""
from bertprep.schemas.example_codec import BYTES, FLOAT32, INT64
from bertprep.schemas.kinds import KINDS, for_kind
from bertprep.schemas.schema import Feature, RecordSchema

__all__ = ["BYTES", "FLOAT32", "INT64", "KINDS", "Feature", "RecordSchema", "for_kind"]
