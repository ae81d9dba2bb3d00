"""Prometheus remote-write 1.0 payloads in pure Python: the ``WriteRequest`` protobuf and snappy framing.

A remote-write body is a ``prometheus.WriteRequest`` message (``prometheus/prompb/remote.proto``),
compressed with the snappy *block* format (not the framed/stream format)::

    message WriteRequest { repeated TimeSeries timeseries = 1; reserved 2; repeated MetricMetadata metadata = 3; }
    message TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; ... }
    message Label        { string name = 1; string value = 2; }
    message Sample       { double value = 1; int64 timestamp = 2; }   // timestamp: milliseconds since the epoch

Only the fields above are written. Labels are sorted by name (``__name__`` included), as receivers
require; samples keep the order they are given in (callers sort them by timestamp).

The snappy encoder is a small LZ77 with a 4-byte hash table, emitting literals and 2-byte-offset
copies (tags 00 and 10 of the block format); its output is valid snappy that any decoder accepts.

No third-party imports: this module runs inside Lambda with the standard library only.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

Labels = Sequence[tuple[str, str]]
Samples = Iterable[tuple[int, float]]

_DOUBLE = struct.Struct("<d")
_UINT64_MASK = (1 << 64) - 1

# --- protobuf ---------------------------------------------------------------------------------------------------------


def varint(value: int) -> bytes:
    """Base-128 varint; negative numbers as their 64-bit two's complement (10 bytes), as protobuf int64 does."""
    value &= _UINT64_MASK
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _length_delimited(field: int, payload: bytes) -> bytes:
    return varint((field << 3) | 2) + varint(len(payload)) + payload


def encode_label(name: str, value: str) -> bytes:
    """A ``Label`` message."""
    return _length_delimited(1, name.encode()) + _length_delimited(2, value.encode())


def encode_sample(timestamp_ms: int, value: float) -> bytes:
    """A ``Sample`` message: field 1 double (wire type 1), field 2 int64 (wire type 0)."""
    return b"\x09" + _DOUBLE.pack(float(value)) + b"\x10" + varint(int(timestamp_ms))


def encode_time_series(labels: Labels, samples: Samples) -> bytes:
    """A ``TimeSeries`` message with its labels sorted by name."""
    body = bytearray()
    for name, value in sorted(labels):
        body += _length_delimited(1, encode_label(name, value))
    for timestamp_ms, value in samples:
        body += _length_delimited(2, encode_sample(timestamp_ms, value))
    return bytes(body)


def encode_write_request(series: Iterable[tuple[Labels, Samples]]) -> bytes:
    """A ``WriteRequest`` message with one ``TimeSeries`` per (labels, samples) pair."""
    body = bytearray()
    for labels, samples in series:
        body += _length_delimited(1, encode_time_series(labels, samples))
    return bytes(body)


# --- snappy (block format) --------------------------------------------------------------------------------------------

_MIN_MATCH = 4
_MAX_OFFSET = 65535  # copy with 2-byte offset
_MAX_COPY_LENGTH = 64  # per copy element
_HASH_BITS = 14


def _emit_literal(out: bytearray, data: bytes, start: int, end: int) -> None:
    while start < end:
        chunk = min(end - start, 1 << 16)
        n = chunk - 1
        if n < 60:
            out.append(n << 2)
        elif n < 1 << 8:
            out += bytes((60 << 2, n))
        else:
            out += bytes((61 << 2, n & 0xFF, n >> 8))
        out += data[start : start + chunk]
        start += chunk


def _emit_copy(out: bytearray, offset: int, length: int) -> None:
    while length > 0:
        # Never leave a remainder below the minimum a copy-2 element can carry... (1 is valid, but keep 4+).
        step = min(length, _MAX_COPY_LENGTH)
        if length - step and length - step < _MIN_MATCH:
            step = length - _MIN_MATCH
        out += bytes((((step - 1) << 2) | 0b10, offset & 0xFF, offset >> 8))
        length -= step


def _match_length(data: bytes, candidate: int, position: int, limit: int) -> int:
    """Length of the common run of ``data[candidate:]`` and ``data[position:]`` (position < limit)."""
    length = 0
    step = 32
    while position + length < limit:
        step = min(step, limit - position - length)
        if data[candidate + length : candidate + length + step] == data[position + length : position + length + step]:
            length += step
            step *= 2
        elif step > 1:
            step //= 2
        else:
            break
    return length


def snappy_compress(data: bytes) -> bytes:
    """``data`` compressed in the snappy block format (uncompressed length varint, then elements)."""
    data = bytes(data)
    size = len(data)
    out = bytearray(varint(size))
    if size < _MIN_MATCH + 1:
        _emit_literal(out, data, 0, size)
        return bytes(out)
    table: dict[bytes, int] = {}
    literal_start = 0
    position = 0
    misses = 0
    last = size - _MIN_MATCH
    while position <= last:
        key = data[position : position + _MIN_MATCH]
        candidate = table.get(key)
        table[key] = position
        if candidate is None or position - candidate > _MAX_OFFSET:
            misses += 1
            position += 1 + (misses >> 5)  # skip faster through incompressible input, as snappy does
            continue
        misses = 0
        length = _MIN_MATCH + _match_length(data, candidate + _MIN_MATCH, position + _MIN_MATCH, size)
        _emit_literal(out, data, literal_start, position)
        _emit_copy(out, position - candidate, length)
        position += length
        literal_start = position
        if position - 1 <= last:
            table[data[position - 1 : position - 1 + _MIN_MATCH]] = position - 1
    _emit_literal(out, data, literal_start, size)
    return bytes(out)
