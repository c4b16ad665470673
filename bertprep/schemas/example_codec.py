"""A fast, byte-stable encoder and a pure-Python decoder for `tf.train.Example` protos.

Why our own codec: building `tf.train.Example` objects in Python costs tens of microseconds a
record and needs TensorFlow on every Beam worker; the wire format of an Example holding only
fixed-length int64/float/bytes lists is small and stable, so we write it directly. Features are
written in sorted name order, so equal feature values always give equal bytes. TensorFlow's
parsers (`tf.io.parse_example`) read the result like any other Example; the tests check that.
"""
import struct

from bertprep.errors import BertprepError

INT64 = "int64"
FLOAT32 = "float32"
BYTES = "bytes"

_VARINT_TABLE_SIZE = 1 << 16
_varint_table = None


def _encode_varint_slow(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # protobuf writes negative int64 as ten-byte two's complement
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _table():
    global _varint_table
    if _varint_table is None:
        _varint_table = [_encode_varint_slow(i) for i in range(_VARINT_TABLE_SIZE)]
    return _varint_table


def varint_table() -> list:
    """The varint bytes of 0..65535, for writers that join many small ints with one look-up each."""
    return _table()


def encode_varint(value: int) -> bytes:
    if 0 <= value < _VARINT_TABLE_SIZE:
        return _table()[value]
    return _encode_varint_slow(value)


def _length_delimited(field_tag: bytes, payload: bytes) -> bytes:
    return field_tag + encode_varint(len(payload)) + payload


def encode_int64_list(values) -> bytes:
    table = _table()
    packed = None
    if values and min(values) >= 0:  # negative indexes would silently read the table from its end
        try:
            packed = b"".join([table[v] for v in values])
        except (IndexError, TypeError):
            packed = None
    if packed is None:
        packed = b"".join([encode_varint(int(v)) for v in values])
    # Int64List { repeated int64 value = 1 [packed] }, inside Feature field 3.
    return _length_delimited(b"\x1a", _length_delimited(b"\x0a", packed) if values else b"")


def encode_float_list(values) -> bytes:
    packed = struct.pack("<%df" % len(values), *values)
    return _length_delimited(b"\x12", _length_delimited(b"\x0a", packed) if len(values) else b"")


def encode_bytes_list(values) -> bytes:
    body = b"".join(_length_delimited(b"\x0a", v if isinstance(v, bytes) else str(v).encode("utf-8"))
                    for v in values)
    return _length_delimited(b"\x0a", body)


_ENCODERS = {INT64: encode_int64_list, FLOAT32: encode_float_list, BYTES: encode_bytes_list}


def encode_feature_entry(name: str, dtype: str, values) -> bytes:
    """One (name, Feature) entry of an Example's feature map; an Example is its entries in name order.

    Public so that a writer with a fixed layout (pretraining_records.PretrainingEncoder, and through it
    the compiled kernel) can cache whole entries, or cut headers from them, instead of re-deriving the
    wire format.
    """
    feature = _ENCODERS[dtype](values)
    entry = _length_delimited(b"\x0a", name.encode("utf-8")) + _length_delimited(b"\x12", feature)
    return _length_delimited(b"\x0a", entry)


def example_prefix(entries_size: int) -> bytes:
    """The bytes of an Example that come before its feature entries, when those take `entries_size` bytes."""
    return b"\x0a" + encode_varint(entries_size)


def encode_example(typed_features) -> bytes:
    """Serialize [(name, dtype, values)] as a tf.train.Example; names must already be sorted."""
    entries = b"".join([encode_feature_entry(name, dtype, values) for name, dtype, values in typed_features])
    return example_prefix(len(entries)) + entries


# ---------------------------------------------------------------- decoding


def _read_varint(data: bytes, pos: int):
    result = 0
    shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 70:
            raise ValueError("varint too long")


def _iter_fields(data: bytes):
    """Yield (field_number, wire_type, value) for one message; value is bytes or int."""
    pos = 0
    end = len(data)
    while pos < end:
        key, pos = _read_varint(data, pos)
        field_number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, pos = _read_varint(data, pos)
        elif wire_type == 2:
            length, pos = _read_varint(data, pos)
            if pos + length > end:
                raise ValueError("truncated length-delimited field")
            value = data[pos:pos + length]
            pos += length
        elif wire_type == 5:
            value = data[pos:pos + 4]
            pos += 4
        elif wire_type == 1:
            value = data[pos:pos + 8]
            pos += 8
        else:
            raise ValueError("unsupported wire type %d" % wire_type)
        yield field_number, wire_type, value


def _signed64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _decode_int64_list(data: bytes):
    values = []
    for _, wire_type, value in _iter_fields(data):
        if wire_type == 2:  # packed
            pos = 0
            while pos < len(value):
                item, pos = _read_varint(value, pos)
                values.append(_signed64(item))
        else:
            values.append(_signed64(value))
    return INT64, values


def _decode_float_list(data: bytes):
    values = []
    for _, wire_type, value in _iter_fields(data):
        if wire_type == 2:
            values.extend(struct.unpack("<%df" % (len(value) // 4), value))
        else:
            values.append(struct.unpack("<f", value)[0])
    return FLOAT32, values


def _decode_bytes_list(data: bytes):
    return BYTES, [value for _, _, value in _iter_fields(data)]


_DECODERS = {1: _decode_bytes_list, 2: _decode_float_list, 3: _decode_int64_list}


def decode_example(data: bytes) -> dict:
    """Parse a serialized tf.train.Example into {name: (dtype, list_of_values)}."""
    try:
        features = {}
        for field, _, features_message in _iter_fields(data):
            if field != 1:
                continue
            for entry_field, _, entry in _iter_fields(features_message):
                if entry_field != 1:
                    continue
                name, feature = None, b""
                for part_field, _, part in _iter_fields(entry):
                    if part_field == 1:
                        name = part.decode("utf-8")
                    elif part_field == 2:
                        feature = part
                decoded = (INT64, [])
                for kind_field, _, kind_value in _iter_fields(feature):
                    decoded = _DECODERS[kind_field](kind_value)
                features[name] = decoded
        return features
    except (ValueError, KeyError, UnicodeDecodeError, struct.error) as error:
        raise BertprepError("not a valid serialized tf.train.Example: %s" % error) from error
