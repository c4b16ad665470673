"""`RecordSchema`: the feature list of one record kind, and everything derived from it.

Writers encode with it, the trainer parses with `tf_feature_spec()`, `info.json` stores `to_json()`,
and `bertprep inspect` validates with `decode()`. Because all of them read the same object, a writer
and a reader can no longer disagree about a feature's name, dtype or length.
"""
import dataclasses
from typing import Dict, List, Tuple

import numpy as np

from bertprep.errors import BertprepError
from bertprep.schemas import example_codec

_NUMPY_DTYPES = {example_codec.INT64: np.int64, example_codec.FLOAT32: np.float32, example_codec.BYTES: object}


@dataclasses.dataclass(frozen=True)
class Feature:
    """One fixed-length feature. `shape == ()` means a single value parsed as a scalar."""

    name: str
    dtype: str
    shape: Tuple[int, ...]
    description: str = ""

    @property
    def length(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1

    def to_json(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape), "description": self.description}

    @classmethod
    def from_json(cls, data: dict) -> "Feature":
        return cls(data["name"], data["dtype"], tuple(data["shape"]), data.get("description", ""))


@dataclasses.dataclass(frozen=True)
class RecordSchema:
    """The features of one record kind for one configuration (lengths already resolved)."""

    kind: str
    features: Tuple[Feature, ...]
    config: Tuple[Tuple[str, object], ...] = ()

    def __post_init__(self):
        # Sorted order is the on-disk order: it makes serialized bytes independent of dict order.
        object.__setattr__(self, "features", tuple(sorted(self.features, key=lambda f: f.name)))

    @property
    def names(self) -> List[str]:
        return [feature.name for feature in self.features]

    def feature(self, name: str) -> Feature:
        for feature in self.features:
            if feature.name == name:
                return feature
        raise KeyError(name)

    # ------------------------------------------------------------ encode / decode

    def encode(self, values: Dict[str, object]) -> bytes:
        """Serialize one record; every feature must be present with exactly its declared length."""
        typed = []
        for feature in self.features:
            if feature.name not in values:
                raise BertprepError("%s record is missing feature %r" % (self.kind, feature.name))
            value = values[feature.name]
            if isinstance(value, np.ndarray):
                value = value.reshape(-1).tolist()
            elif not isinstance(value, (list, tuple)):
                value = [value]
            if len(value) != feature.length:
                raise BertprepError(
                    "%s feature %r has %d values; the schema says %d" % (self.kind, feature.name, len(value), feature.length))
            typed.append((feature.name, feature.dtype, value))
        extra = set(values) - set(self.names)
        if extra:
            raise BertprepError("%s record has features the schema does not know: %s" % (self.kind, sorted(extra)))
        return example_codec.encode_example(typed)

    def decode(self, data: bytes) -> Dict[str, np.ndarray]:
        """Parse and validate one record against this schema (pure Python; no TensorFlow)."""
        parsed = example_codec.decode_example(data)
        result = {}
        for feature in self.features:
            if feature.name not in parsed:
                raise BertprepError("%s record lacks feature %r" % (self.kind, feature.name))
            dtype, values = parsed[feature.name]
            if dtype != feature.dtype:
                raise BertprepError(
                    "feature %r is %s in the data but %s in the schema" % (feature.name, dtype, feature.dtype))
            if len(values) != feature.length:
                raise BertprepError(
                    "feature %r has length %d in the data but %d in the schema (%s)"
                    % (feature.name, len(values), feature.length, self._length_hint(feature)))
            array = np.array(values, dtype=_NUMPY_DTYPES[dtype])
            result[feature.name] = array.reshape(feature.shape) if feature.shape else array[0]
        return result

    def _length_hint(self, feature: Feature) -> str:
        config = dict(self.config)
        hints = [f"{key}={config[key]}" for key in ("max_seq_length", "max_predictions_per_seq", "num_labels")
                 if key in config]
        return "schema built with " + ", ".join(hints) if hints else "fixed length"

    # ------------------------------------------------------------ TensorFlow side

    def tf_feature_spec(self) -> dict:
        """The dict to pass to `tf.io.parse_example` / `parse_single_example`."""
        import tensorflow as tf  # imported lazily: pipelines never need TensorFlow for writing

        tf_dtypes = {example_codec.INT64: tf.int64, example_codec.FLOAT32: tf.float32, example_codec.BYTES: tf.string}
        return {f.name: tf.io.FixedLenFeature(list(f.shape), tf_dtypes[f.dtype]) for f in self.features}

    # ------------------------------------------------------------ JSON (info.json)

    def to_json(self) -> dict:
        return {"kind": self.kind, "features": [f.to_json() for f in self.features], "config": dict(self.config)}

    @classmethod
    def from_json(cls, data: dict) -> "RecordSchema":
        return cls(data["kind"], tuple(Feature.from_json(f) for f in data["features"]),
                   tuple(sorted(data.get("config", {}).items())))

    def check_compatible(self, other: "RecordSchema") -> None:
        """Refuse data written with another layout, naming the feature and both lengths."""
        if other.kind != self.kind:
            raise BertprepError("the data holds %r records but %r records are expected" % (other.kind, self.kind))
        for feature in self.features:
            try:
                theirs = other.feature(feature.name)
            except KeyError:
                raise BertprepError("the data has no feature %r" % feature.name) from None
            if theirs.shape != feature.shape or theirs.dtype != feature.dtype:
                raise BertprepError(
                    "feature %r is %s%s in the data (%s) but %s%s is expected (%s)"
                    % (feature.name, theirs.dtype, list(theirs.shape), other._length_hint(theirs),
                       feature.dtype, list(feature.shape), self._length_hint(feature)))
