"""TFRecord framing (length, masked CRC32C, data, masked CRC32C) without TensorFlow.

Workers write records with this instead of `tf.io.TFRecordWriter` so a Beam worker image does not need
TensorFlow, and `bertprep inspect` can say at which byte offset a file is corrupt.
"""
import gzip
import io
import struct

import google_crc32c

from bertprep.errors import BertprepError

_MASK_DELTA = 0xA282EAD8


def masked_crc32c(data: bytes) -> int:
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def frame(record: bytes) -> bytes:
    """One record as it is laid out in a TFRecord file."""
    length = struct.pack("<Q", len(record))
    return length + struct.pack("<I", masked_crc32c(length)) + record + struct.pack("<I", masked_crc32c(record))


def iter_records(handle, name: str = "<stream>"):
    """Yield (offset, record) from a binary file object, checking both CRCs of every record.

    A short read or a CRC mismatch raises BertprepError naming the file and the record's offset.
    """
    offset = 0
    while True:
        header = handle.read(12)
        if not header:
            return
        if len(header) < 12:
            raise BertprepError("%s: truncated record header at byte offset %d" % (name, offset))
        length_bytes, length_crc = header[:8], struct.unpack("<I", header[8:])[0]
        if masked_crc32c(length_bytes) != length_crc:
            raise BertprepError("%s: corrupted record length (CRC mismatch) at byte offset %d" % (name, offset))
        (length,) = struct.unpack("<Q", length_bytes)
        body = handle.read(length + 4)
        if len(body) < length + 4:
            raise BertprepError("%s: truncated record at byte offset %d (expected %d bytes, found %d)"
                                % (name, offset, length + 4, len(body)))
        record, data_crc = body[:length], struct.unpack("<I", body[length:])[0]
        if masked_crc32c(record) != data_crc:
            raise BertprepError("%s: corrupted record data (CRC mismatch) at byte offset %d" % (name, offset))
        yield offset, record
        offset += 12 + length + 4


def read_file(path: str):
    """Yield (offset, record) from a local or remote TFRecord file; `.gz` files are decompressed."""
    from bertprep.io import fs

    data = fs.read_bytes(path)
    if path.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as error:
            raise BertprepError("%s: not a complete gzip file (%s)" % (path, error)) from None
    yield from iter_records(io.BytesIO(data), path)
