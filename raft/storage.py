"""The durable log as the Raft core sees it (a narrow read-only Protocol), and an in-memory one.

The core only ever *reads* storage. Everything it wants written comes out in a Ready, and the
driver writes it with `MutableStorage.save` (snapshot, entries, hard state: one atomic, durable
write, so an LMDB implementation is one write transaction and one fsync) before it advances.

Index layout, shared by every implementation: the storage holds a snapshot (index S, term T,
possibly S = 0 for an empty log) followed by the entries S+1..last. `term(S)` is answerable
(the snapshot's term), so `first_index() = S + 1` and an empty log has `last_index() = S`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from .errors import Compacted, Unavailable
from .types import (
    ConfChange,
    ConfChangeType,
    ConfState,
    Entry,
    EntryType,
    HardState,
    Snapshot,
    SnapshotMetadata,
    limit_size,
)
from .wire import encode_conf_change


class Storage(Protocol):
    """What the core reads. Implementations raise Compacted/Unavailable outside their range."""

    def initial_state(self) -> tuple[HardState, ConfState]:
        """The durable hard state, and the membership as of the snapshot (replay covers the rest)."""
        ...

    def entries(self, lo: int, hi: int, max_size: int | None = None) -> list[Entry]:
        """Entries [lo, hi), a prefix limited to max_size bytes (never empty if the range is not)."""
        ...

    def term(self, index: int) -> int:
        """The term of the entry at index, for first_index() - 1 <= index <= last_index()."""
        ...

    def first_index(self) -> int: ...

    def last_index(self) -> int: ...

    def snapshot(self) -> Snapshot:
        """The newest snapshot, which covers at least everything compacted away."""
        ...


class MutableStorage(Storage, Protocol):
    """What a node driver writes: the contents of a Ready, and compaction after a snapshot."""

    def save(self, hard_state: HardState | None, entries: Sequence[Entry], snapshot: Snapshot | None) -> None:
        """Durably and atomically: install snapshot, append entries (replacing any existing
        entries from entries[0].index on: a conflicting suffix), then record hard_state."""
        ...

    def compact(self, index: int) -> None:
        """Drop entries up to and including index (which the snapshot must already cover)."""
        ...


def bootstrap_entries(voters: Sequence[str]) -> list[Entry]:
    """The log every founding member starts with: one ADD_VOTER per voter at term 1.

    Membership lives in the log rather than in a pre-made snapshot so that a member that joins
    later, with an empty log, learns it by ordinary replication.
    """
    return [
        Entry(1, i, EntryType.CONF_CHANGE, encode_conf_change(ConfChange(ConfChangeType.ADD_VOTER, v)))
        for i, v in enumerate(sorted(voters), start=1)
    ]


class MemoryStorage:
    """An in-memory MutableStorage for tests and the simulation: "durable" is this object.

    `_ents[0]` is a dummy entry carrying the snapshot's index and term, so term(S) and the
    index arithmetic need no special cases.
    """

    def __init__(self, conf_state: ConfState | None = None) -> None:
        self._hard_state = HardState()
        # An empty snapshot at index 0; conf_state seeds the membership (tests skip bootstrap).
        self._snapshot = Snapshot(SnapshotMetadata(conf_state=conf_state or ConfState()))
        self._ents: list[Entry] = [Entry(0, 0)]

    @classmethod
    def bootstrap(cls, voters: Sequence[str]) -> MemoryStorage:
        """A founding member's storage: the bootstrap entries, committed (all members agree)."""
        storage = cls()
        ents = bootstrap_entries(voters)
        storage.save(HardState(term=1, commit=len(ents)), ents, None)
        return storage

    # -- Storage --------------------------------------------------------------------------

    def initial_state(self) -> tuple[HardState, ConfState]:
        return self._hard_state, self._snapshot.metadata.conf_state

    def first_index(self) -> int:
        return self._ents[0].index + 1

    def last_index(self) -> int:
        return self._ents[0].index + len(self._ents) - 1

    def term(self, index: int) -> int:
        offset = self._ents[0].index
        if index < offset:
            raise Compacted(index)
        if index - offset >= len(self._ents):
            raise Unavailable(index)
        return self._ents[index - offset].term

    def entries(self, lo: int, hi: int, max_size: int | None = None) -> list[Entry]:
        offset = self._ents[0].index
        if lo <= offset:
            raise Compacted(lo)
        if hi > self.last_index() + 1:
            raise Unavailable(hi)
        return limit_size(self._ents[lo - offset : hi - offset], max_size)

    def snapshot(self) -> Snapshot:
        return self._snapshot

    # -- MutableStorage ---------------------------------------------------------------------

    def save(self, hard_state: HardState | None, entries: Sequence[Entry], snapshot: Snapshot | None) -> None:
        if snapshot is not None:
            self.apply_snapshot(snapshot)
        if entries:
            self.append(entries)
        if hard_state is not None:
            self._hard_state = hard_state

    def append(self, entries: Sequence[Entry]) -> None:
        first = self.first_index()
        if entries[-1].index < first:
            return  # everything already compacted (a stale duplicate)
        if entries[0].index < first:
            entries = entries[first - entries[0].index :]
        at = entries[0].index - self._ents[0].index
        if at > len(self._ents):
            raise ValueError(f"gap: appending {entries[0].index} after {self.last_index()}")
        del self._ents[at:]
        self._ents.extend(entries)

    def apply_snapshot(self, snapshot: Snapshot) -> None:
        meta = snapshot.metadata
        if meta.index <= self._snapshot.metadata.index:
            raise ValueError(f"snapshot {meta.index} is not newer than {self._snapshot.metadata.index}")
        self._snapshot = snapshot
        self._ents = [Entry(meta.term, meta.index)]

    def create_snapshot(self, index: int, conf_state: ConfState, data: bytes) -> Snapshot:
        """Record the application's snapshot at index (<= applied); compaction may then follow."""
        if index <= self._snapshot.metadata.index:
            raise ValueError(f"snapshot {index} is not newer than {self._snapshot.metadata.index}")
        self._snapshot = Snapshot(SnapshotMetadata(index, self.term(index), conf_state), data)
        return self._snapshot

    def compact(self, index: int) -> None:
        offset = self._ents[0].index
        if index <= offset:
            return
        if index > self._snapshot.metadata.index:
            raise ValueError(f"compacting to {index} beyond the snapshot at {self._snapshot.metadata.index}")
        self._ents = [Entry(self.term(index), index), *self._ents[index - offset + 1 :]]
