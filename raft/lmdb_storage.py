"""The durable Raft log on LMDB: entries, hard state and snapshot, fsynced before any acknowledgement.

One LMDB environment per node, opened with sync on: `save()` is one write transaction, so the
snapshot, the appended entries (with any conflicting suffix removed) and the hard state of a Ready
become durable together, with one fsync however many proposals the Ready carries (group commit).
The node driver calls `save()` before it sends a Ready's persisted messages, which is what makes
a vote or an append acknowledgement a promise that survives kill -9 and power loss.

Layout: `entries` maps an 8-byte big-endian index to `term (8) | type (1) | data`; `meta` holds
the hard state and the snapshot (metadata and data) as protobuf. The snapshot's index and term
stand in for the compacted prefix, exactly as in MemoryStorage.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import lmdb

from alcor.internal import raft_pb2 as pb

from .errors import Compacted, Unavailable
from .storage import bootstrap_entries
from .types import ConfState, Entry, HardState, Snapshot, SnapshotMetadata
from .wire import hard_state_from_pb, hard_state_to_pb, snapshot_metadata_from_pb, snapshot_metadata_to_pb

_INDEX = struct.Struct(">Q")
_HEAD = struct.Struct(">QB")
_HARD_STATE = b"hard_state"
_SNAPSHOT = b"snapshot"
_HEAD_OFFSET = struct.Struct(">QQ")


def _key(index: int) -> bytes:
    return _INDEX.pack(index)


def _encode(e: Entry) -> bytes:
    return _HEAD.pack(e.term, e.type) + e.data


def _decode(index: int, value: bytes | memoryview) -> Entry:
    term, etype = _HEAD.unpack_from(value)
    return Entry(term, index, etype, bytes(value[_HEAD.size :]))


_OFFSET = b"offset"


@dataclass(frozen=True, slots=True)
class Written:
    """A transaction LmdbStorage.write() committed, for publish() once it is flushed."""

    offset: tuple[int, int]
    last: int
    entries: Sequence[Entry]
    hard_state: HardState | None
    snapshot: Snapshot | None


class LmdbStorage:
    """A MutableStorage on an LMDB environment in `path` (created if missing).

    `offset` is the compaction point: (index, term) of the newest entry no longer stored, which
    the snapshot covers. It moves on snapshot install and on compact(), not on create_snapshot().
    """

    def __init__(self, path: str | Path, map_size: int = 8 << 30, sync: bool = True) -> None:
        Path(path).mkdir(parents=True, exist_ok=True)
        # LMDB commits without flushing; save() flushes (fdatasync) itself when the Ready needs
        # it, so a Ready that only moves the commit index costs no fsync. sync=False turns every
        # flush off: only for measuring what fsync costs, never in production.
        self._durable = sync
        self._env = lmdb.open(str(path), map_size=map_size, max_dbs=4, sync=False, metasync=False)
        self._entries = self._env.open_db(b"entries")
        self._meta = self._env.open_db(b"meta")
        with self._env.begin() as txn:
            raw = txn.get(_HARD_STATE, db=self._meta)
            self._hard_state = hard_state_from_pb(pb.HardState.FromString(raw)) if raw else HardState()
            raw = txn.get(_SNAPSHOT, db=self._meta)
            self._snapshot = self._snapshot_from(raw) if raw else Snapshot()
            raw = txn.get(_OFFSET, db=self._meta)
            self._offset: tuple[int, int] = _HEAD_OFFSET.unpack(raw) if raw else (0, 0)
            cur = txn.cursor(db=self._entries)
            self._last = _INDEX.unpack(cur.key())[0] if cur.last() else self._offset[0]
        # the core asks for recent terms on every append and response: keep the tail's at hand
        self._terms: dict[int, int] = {}

    @classmethod
    def bootstrap(cls, path: str | Path, voters: Sequence[str], sync: bool = True) -> LmdbStorage:
        """A founding member's storage, unless `path` already holds a log (a restart)."""
        storage = cls(path, sync=sync)
        if storage.last_index() == 0 and storage._hard_state == HardState():
            ents = bootstrap_entries(voters)
            storage.save(HardState(term=1, commit=len(ents)), ents, None)
        return storage

    def close(self) -> None:
        self._env.close()

    @staticmethod
    def _snapshot_from(raw: bytes) -> Snapshot:
        m = pb.Snapshot.FromString(raw)
        return Snapshot(snapshot_metadata_from_pb(m.metadata), m.data)

    # -- Storage ------------------------------------------------------------------------------

    def initial_state(self) -> tuple[HardState, ConfState]:
        return self._hard_state, self._snapshot.metadata.conf_state

    def first_index(self) -> int:
        return self._offset[0] + 1

    def last_index(self) -> int:
        return self._last

    def term(self, index: int) -> int:
        offset, offset_term = self._offset
        if index < offset:
            raise Compacted(index)
        if index > self._last:
            raise Unavailable(index)
        if index == offset:
            return offset_term
        cached = self._terms.get(index)
        if cached is not None:
            return cached
        with self._env.begin(buffers=True) as txn:
            value = txn.get(_key(index), db=self._entries)
        if value is None:  # a hole in the log means corrupt storage: never guess a term
            raise RuntimeError(f"raft log entry {index} missing in {self._env.path()}")
        return int(_HEAD.unpack_from(value)[0])

    def entries(self, lo: int, hi: int, max_size: int | None = None) -> list[Entry]:
        if lo <= self._offset[0]:
            raise Compacted(lo)
        if hi > self._last + 1:
            raise Unavailable(hi)
        out: list[Entry] = []
        size = 0
        with self._env.begin(buffers=True) as txn:
            cur = txn.cursor(db=self._entries)
            if lo < hi and not cur.set_key(_key(lo)):
                raise RuntimeError(f"raft log entry {lo} missing in {self._env.path()}")
            for key, value in cur if lo < hi else ():
                index = _INDEX.unpack(key)[0]
                if index >= hi:
                    break
                e = _decode(index, value)
                size += e.size()
                if out and max_size is not None and size > max_size:
                    break
                out.append(e)
        return out

    def snapshot(self) -> Snapshot:
        return self._snapshot

    # -- MutableStorage -------------------------------------------------------------------------

    def save(
        self,
        hard_state: HardState | None,
        entries: Sequence[Entry],
        snapshot: Snapshot | None,
        sync: bool = True,
    ) -> None:
        """One transaction; flushed to disk before returning unless sync is False (a Ready whose
        must_sync is False: only the commit index moved, which a restart relearns)."""
        written = self.write(hard_state, entries, snapshot)
        if sync:
            self.flush()
        self.publish(written)

    def write(
        self, hard_state: HardState | None, entries: Sequence[Entry], snapshot: Snapshot | None
    ) -> Written:
        """save() in steps, so a driver can flush off its loop: commit the transaction without
        flushing, then `flush()` (which holds no Python lock while the disk works), then
        `publish()`. Until published, the last index, hard state and snapshot this object
        reports are those from before the write (the core reads nothing it wrote meanwhile:
        an outstanding Ready's entries are still its unstable tail)."""
        if hard_state is None and not entries and snapshot is None:
            return Written(self._offset, self._last, (), None, None)
        offset, last = self._offset, self._last
        with self._env.begin(write=True) as txn:
            if snapshot is not None:
                meta = snapshot.metadata
                if meta.index <= self._snapshot.metadata.index:
                    raise ValueError(
                        f"snapshot {meta.index} is not newer than {self._snapshot.metadata.index}"
                    )
                # an installed snapshot replaces the whole log, as the leader's log may differ
                txn.drop(self._entries, delete=False)
                record = pb.Snapshot(metadata=snapshot_metadata_to_pb(meta), data=snapshot.data)
                txn.put(_SNAPSHOT, record.SerializeToString(), db=self._meta)
                offset, last = (meta.index, meta.term), meta.index
                txn.put(_OFFSET, _HEAD_OFFSET.pack(*offset), db=self._meta)
            if entries:
                entries = self._append(txn, entries, offset[0] + 1, last)
                if entries:
                    last = entries[-1].index
            if hard_state is not None:
                txn.put(_HARD_STATE, hard_state_to_pb(hard_state).SerializeToString(), db=self._meta)
        return Written(offset, last, entries, hard_state, snapshot)

    def flush(self) -> None:
        """Make every committed transaction durable (fdatasync); safe to call from a worker thread."""
        if self._durable:
            self._env.sync(True)

    def publish(self, written: Written) -> None:
        """The last step of save(): memory follows only once the commit (and its flush) succeeded."""
        if written.snapshot is not None:
            self._snapshot = written.snapshot
            self._terms.clear()
        self._offset, self._last = written.offset, written.last
        if written.entries:
            self._note_appended(written.entries)
        if written.hard_state is not None:
            self._hard_state = written.hard_state

    def _append(
        self, txn: lmdb.Transaction, entries: Sequence[Entry], first: int, last: int
    ) -> Sequence[Entry]:
        if entries[-1].index < first:
            return ()  # everything already compacted (a stale duplicate)
        if entries[0].index < first:
            entries = entries[first - entries[0].index :]
        start = entries[0].index
        if start > last + 1:
            raise ValueError(f"gap: appending {start} after {last}")
        if start <= last:  # the core sends entries from a conflict on: drop the old suffix
            cur = txn.cursor(db=self._entries)
            if cur.set_range(_key(start)):
                while cur.delete():
                    pass
        cur = txn.cursor(db=self._entries)
        cur.putmulti([(_key(e.index), _encode(e)) for e in entries], append=True)
        return entries

    def _note_appended(self, entries: Sequence[Entry]) -> None:
        # Keys go in ascending order (a suffix is dropped before it is replaced), so the newest
        # are last: an ordinary append drops nothing and never scans the whole cache.
        start, terms = entries[0].index, self._terms
        while terms and next(reversed(terms)) >= start:
            terms.popitem()
        for e in entries:
            terms[e.index] = e.term
        if len(terms) > 8192:  # the tail is what the core asks about
            for index in list(itertools.islice(terms, len(terms) - 1024)):
                del terms[index]

    def create_snapshot(
        self, index: int, conf_state: ConfState, data: bytes, compact: bool = False
    ) -> Snapshot:
        """Record the application's snapshot at index (<= applied). With compact, drop the entries
        it covers in the same transaction, so a crash never leaves the log and the snapshot's
        membership out of step."""
        if index <= self._snapshot.metadata.index:
            raise ValueError(f"snapshot {index} is not newer than {self._snapshot.metadata.index}")
        snapshot = Snapshot(SnapshotMetadata(index, self.term(index), conf_state), data)
        record = pb.Snapshot(metadata=snapshot_metadata_to_pb(snapshot.metadata), data=data)
        with self._env.begin(write=True) as txn:
            txn.put(_SNAPSHOT, record.SerializeToString(), db=self._meta)
            if compact:
                self._compact(txn, index, snapshot.metadata.term)
        self.flush()
        self._snapshot = snapshot
        if compact:
            self._compacted(index, snapshot.metadata.term)
        return snapshot

    def compact(self, index: int) -> None:
        if index <= self._offset[0]:
            return
        if index > self._snapshot.metadata.index:
            raise ValueError(f"compacting to {index} beyond the snapshot at {self._snapshot.metadata.index}")
        term = self.term(index)
        with self._env.begin(write=True) as txn:
            self._compact(txn, index, term)
        self.flush()
        self._compacted(index, term)

    def _compact(self, txn: lmdb.Transaction, index: int, term: int) -> None:
        cur = txn.cursor(db=self._entries)
        while cur.first() and _INDEX.unpack(cur.key())[0] <= index:
            cur.delete()
        txn.put(_OFFSET, _HEAD_OFFSET.pack(index, term), db=self._meta)

    def _compacted(self, index: int, term: int) -> None:
        self._offset = (index, term)
        for i in [i for i in self._terms if i <= index]:
            del self._terms[i]
