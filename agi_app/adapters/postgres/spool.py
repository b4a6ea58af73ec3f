"""A write-ahead spool of journey events on local disk, for when PostgreSQL is away.

Asterisk's CDR spool and queue_log, a Kafka producer's local buffer and
PostgreSQL's own WAL keep their record on disk first; this is the same idea at
the size of one hotline. The spool is a folder of append-only *segments*,
``000000000001.seg``, ``000000000002.seg``, ... replayed oldest first. A
process never appends to a segment it did not create, so the torn tail a crash
leaves stays where it is and is skipped on replay.

One record::

    b"JS" | length: uint32 big-endian | CRC32 of the payload: uint32 big-endian | payload

The payload is one journey event as UTF-8 JSON (``encode_event``). Reading
stops at a record cut short (the torn last record of a crash: detected and
skipped, never replayed half). A record whose checksum does not match with more
data after it (a corrupt middle record) is skipped by scanning forward to the
next valid header, and counted.

``append`` writes a batch with one ``write`` and one ``fsync``: a process killed
with ``kill -9`` loses nothing it has appended (the page cache survives the
process), a power cut loses at most the batch being synced. ``max_bytes`` caps
the whole folder; ``append`` takes what fits and says how many that was.
Methods take a lock, so the writer may call them from a worker thread while the
stop path calls ``append`` from the event loop.
"""

from __future__ import annotations

import json
import os
import struct
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from agi_app.core.journey import CallEnd, CallStart, CallStep, JourneyEvent
from agi_app.core.text import is_ascii_digits

MAGIC = b"JS"
HEADER = struct.Struct(">2sII")  # magic, payload length, CRC32
MAX_RECORD = 1 << 20  # a journey event is a few hundred bytes; more is a bad header
SUFFIX = ".seg"


@dataclass
class SegmentRead:
    """What one segment holds: the valid payloads in order, and what was skipped."""

    records: list[bytes]
    torn: bool = False  # the last record was cut short (a crash while writing it)
    corrupt: int = 0  # records skipped in the middle (checksum or header mismatch)


def encode_record(payload: bytes) -> bytes:
    return HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload


def _record_at(data: bytes, pos: int) -> bytes | None:
    """The payload of a valid record starting at ``pos``, else None."""
    if pos + HEADER.size > len(data):
        return None
    magic, length, crc = HEADER.unpack_from(data, pos)
    end = pos + HEADER.size + length
    if magic != MAGIC or length > MAX_RECORD or end > len(data):
        return None
    payload = data[pos + HEADER.size : end]
    return payload if zlib.crc32(payload) == crc else None


def parse_segment(data: bytes) -> SegmentRead:
    """Split a segment's bytes into records (see the module docstring)."""
    out = SegmentRead(records=[])
    pos = 0
    while pos < len(data):
        payload = _record_at(data, pos)
        if payload is not None:
            out.records.append(payload)
            pos += HEADER.size + len(payload)
            continue
        nxt = data.find(MAGIC, pos + 1)
        while nxt != -1 and _record_at(data, nxt) is None:
            nxt = data.find(MAGIC, nxt + 1)
        if nxt == -1:  # nothing valid after it: the torn tail of a crash
            out.torn = True
            return out
        out.corrupt += 1
        pos = nxt
    return out


def read_segment(path: Path) -> SegmentRead:
    return parse_segment(path.read_bytes())


class Spool:
    """The segments in ``folder``, capped at ``max_bytes`` in all."""

    def __init__(self, folder: Path, max_bytes: int, segment_bytes: int = 4 << 20) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self._lock = threading.Lock()
        self._active_path: Path | None = None
        self._active_size = 0
        folder.mkdir(parents=True, exist_ok=True)
        existing = self.segments()
        self._next = int(existing[-1].stem) + 1 if existing else 1
        self.size = sum(p.stat().st_size for p in existing)

    def segments(self) -> list[Path]:
        """Every segment, oldest first (the one being appended to last)."""
        return sorted(p for p in self.folder.glob(f"*{SUFFIX}") if is_ascii_digits(p.stem))

    def sealed(self) -> list[Path]:
        """The segments no longer appended to: those replay may read and remove."""
        with self._lock:
            return [p for p in self.segments() if p != self._active_path]

    def append(self, payloads: Sequence[bytes]) -> int:
        """Append as many of ``payloads`` as fit under the cap, in order, then fsync.

        Returns how many were written (the rest did not fit)."""
        with self._lock:
            blob = bytearray()
            taken = 0
            for payload in payloads:
                record = encode_record(payload)
                if self.size + len(blob) + len(record) > self.max_bytes:
                    break
                blob += record
                taken += 1
            if not blob:
                return 0
            with self._segment_for(len(blob)).open("ab") as fh:
                fh.write(blob)
                fh.flush()
                os.fsync(fh.fileno())
            self._active_size += len(blob)
            self.size += len(blob)
            return taken

    def seal(self) -> None:
        """Close the segment being appended to; the next append starts a new one."""
        with self._lock:
            self._close_active()

    def remove(self, path: Path) -> None:
        """Delete a replayed segment."""
        with self._lock:
            if path == self._active_path:
                self._close_active()
            try:
                size = path.stat().st_size
                path.unlink()
            except FileNotFoundError:
                return
            self.size = max(0, self.size - size)
            _fsync_dir(self.folder)

    def close(self) -> None:
        """Stop appending to the current segment (no file is held open between appends)."""
        self.seal()

    def _segment_for(self, incoming: int) -> Path:
        if self._active_path is not None and self._active_size + incoming > self.segment_bytes:
            self._close_active()
        if self._active_path is None:
            self._active_path = self.folder / f"{self._next:012d}{SUFFIX}"
            self._next += 1
            self._active_path.touch()
            _fsync_dir(self.folder)  # the new file's name survives a power cut too
        return self._active_path

    def _close_active(self) -> None:
        self._active_path = None
        self._active_size = 0


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# Journey events as spool payloads. The step's seq is in ``detail["_seq"]``
# (assigned by JourneyWriter.emit), so a replay writes the same key twice at most.
_TYPES: dict[str, type[CallStart] | type[CallStep] | type[CallEnd]] = {
    "start": CallStart,
    "step": CallStep,
    "end": CallEnd,
}
_NAMES = {cls: name for name, cls in _TYPES.items()}
_TIMES = ("started_at", "at", "ended_at")


def _json_default(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def encode_event(event: JourneyEvent) -> bytes:
    body: dict[str, Any] = {"t": _NAMES[type(event)]}
    for f in fields(event):
        body[f.name] = getattr(event, f.name)
    return json.dumps(body, default=_json_default, ensure_ascii=False).encode()


def decode_event(payload: bytes) -> JourneyEvent:
    """The event ``encode_event`` wrote; ValueError/KeyError/TypeError on anything else."""
    body = json.loads(payload)
    cls = _TYPES[body.pop("t")]
    for name in _TIMES:
        if name in body:
            body[name] = datetime.fromisoformat(body[name])
    return cls(**body)


@dataclass
class SpooledEvents:
    """The journey events of one segment, and what was skipped."""

    events: list[JourneyEvent]
    torn: bool
    corrupt: int  # records skipped: checksum or header mismatch, or not an event


def read_events(path: Path) -> SpooledEvents:
    """Read and decode a segment (blocking: run it in a worker thread)."""
    read = read_segment(path)
    events: list[JourneyEvent] = []
    corrupt = read.corrupt
    for payload in read.records:
        try:
            events.append(decode_event(payload))
        except (ValueError, KeyError, TypeError):
            corrupt += 1
    return SpooledEvents(events, read.torn, corrupt)
