"""A stdlib reader of TensorBoard ``events.out.tfevents.*`` scalars (no tensorflow).

Framing (TFRecord): each record is ``uint64 length | uint32 masked-crc32c(length) | data[length]
| uint32 masked-crc32c(data)``, little-endian. ``data`` is an ``Event`` protobuf:
``wall_time`` (1, double), ``step`` (2, int64), ``file_version`` (3, string), ``summary`` (5).
``Summary`` holds repeated ``value`` (1) = {``tag`` (1, string), ``simple_value`` (2, float),
``tensor`` (8, TensorProto)}. PyTorch's ``SummaryWriter.add_scalar`` (what HF's TensorBoard
callback uses) writes ``simple_value``; TF2's ``tf.summary.scalar`` writes a scalar ``tensor``
(``dtype`` 1 = float / 2 = double, ``float_val`` 5, ``double_val`` 6 or ``tensor_content`` 4).

CRCs are not verified (crc32c is not in the stdlib); a record whose length runs past the end of
the file is the tail of a run that was killed while writing, and is reported, not fatal.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Scalar:
    tag: str
    step: int
    value: float


@dataclass
class EventsFile:
    scalars: list[Scalar]
    records: int
    truncated: bool


def looks_like_tfevents(data: bytes) -> bool:
    """The first record is an Event: a sane length and the wall_time field (tag 0x09) first."""
    if len(data) < 13:
        return False
    (length,) = struct.unpack_from("<Q", data, 0)
    return 0 < length <= len(data) - 12 and data[12] == 0x09


def read_events(data: bytes) -> EventsFile:
    scalars: list[Scalar] = []
    pos, records, truncated = 0, 0, False
    while pos < len(data):
        if pos + 12 > len(data):
            truncated = True
            break
        (length,) = struct.unpack_from("<Q", data, pos)
        start, end = pos + 12, pos + 12 + length
        if end + 4 > len(data):
            truncated = True
            break
        records += 1
        scalars.extend(_event_scalars(data[start:end]))
        pos = end + 4
    return EventsFile(scalars, records, truncated)


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 70:
            raise ValueError("varint too long")


def _fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value): varints and fixed ints as ints, length-delimited as bytes."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            yield number, wire, value
        elif wire == 1:
            yield number, wire, buf[pos:pos + 8]
            pos += 8
        elif wire == 2:
            size, pos = _varint(buf, pos)
            yield number, wire, buf[pos:pos + size]
            pos += size
        elif wire == 5:
            yield number, wire, buf[pos:pos + 4]
            pos += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")


def _event_scalars(buf: bytes) -> list[Scalar]:
    step = 0
    summaries: list[bytes] = []
    try:
        for number, wire, value in _fields(buf):
            if number == 2 and wire == 0 and isinstance(value, int):
                step = value - (1 << 64) if value >= 1 << 63 else value
            elif number == 5 and wire == 2 and isinstance(value, bytes):
                summaries.append(value)
        out: list[Scalar] = []
        for summary in summaries:
            for number, wire, value in _fields(summary):
                if number == 1 and wire == 2 and isinstance(value, bytes):
                    scalar = _summary_value(value, step)
                    if scalar is not None:
                        out.append(scalar)
        return out
    except (ValueError, struct.error):
        return []  # a corrupt record: skip it, the rest of the file is still framed


def _summary_value(buf: bytes, step: int) -> Scalar | None:
    tag: str | None = None
    value: float | None = None
    for number, wire, raw in _fields(buf):
        if number == 1 and isinstance(raw, bytes):
            tag = raw.decode("utf-8", "replace")
        elif number == 2 and wire == 5 and isinstance(raw, bytes):
            (value,) = struct.unpack("<f", raw)
        elif number == 8 and isinstance(raw, bytes):
            value = _tensor_scalar(raw)
    if tag is None or value is None:
        return None
    return Scalar(tag, step, float(value))


def _tensor_scalar(buf: bytes) -> float | None:
    dtype = 0
    content = b""
    floats: list[float] = []
    for number, wire, raw in _fields(buf):
        if number == 1 and isinstance(raw, int):
            dtype = raw
        elif number == 4 and isinstance(raw, bytes):
            content = raw
        elif number == 5 and isinstance(raw, bytes):
            floats.extend(struct.unpack(f"<{len(raw) // 4}f", raw) if wire == 2 else struct.unpack("<f", raw))
        elif number == 6 and isinstance(raw, bytes):
            floats.extend(struct.unpack(f"<{len(raw) // 8}d", raw) if wire == 2 else struct.unpack("<d", raw))
    if floats:
        return floats[0]
    if dtype == 1 and len(content) == 4:
        return float(struct.unpack("<f", content)[0])
    if dtype == 2 and len(content) == 8:
        return float(struct.unpack("<d", content)[0])
    return None
