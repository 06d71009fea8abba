"""One node's view of the Raft log: durable storage plus the not-yet-persisted tail.

Owns the log rules that protect committed data: an append is accepted only after its previous
entry matches (Log Matching), an existing entry is replaced only on a real term conflict (never
on a duplicate or reordered message), a committed entry is never replaced (asserted), and the
commit index only moves to indexes verified against the leader's log (pysyncobj's bug B1 was a
follower raising its commit index over its own, unverified, tail).
"""

from __future__ import annotations

from collections.abc import Sequence

from .errors import Compacted
from .storage import Storage
from .types import Entry, Snapshot, limit_size


class Unstable:
    """Entries at offset.. (and possibly a snapshot) that the next Ready hands out to persist.

    Entries at or after `offset` shadow whatever storage still has there: after a conflict the
    storage's stale suffix stays until the driver's append replaces it.
    """

    __slots__ = ("entries", "offset", "snapshot")

    def __init__(self, offset: int) -> None:
        self.offset = offset
        self.entries: list[Entry] = []
        self.snapshot: Snapshot | None = None

    def first_index(self) -> int | None:
        return None if self.snapshot is None else self.snapshot.metadata.index + 1

    def last_index(self) -> int | None:
        if self.entries:
            return self.offset + len(self.entries) - 1
        return None if self.snapshot is None else self.snapshot.metadata.index

    def term(self, index: int) -> int | None:
        if index < self.offset:
            if self.snapshot is not None and self.snapshot.metadata.index == index:
                return self.snapshot.metadata.term
            return None
        i = index - self.offset
        return self.entries[i].term if i < len(self.entries) else None

    def truncate_and_append(self, ents: Sequence[Entry]) -> None:
        after = ents[0].index
        if after == self.offset + len(self.entries):
            self.entries.extend(ents)
        elif after <= self.offset:
            # Replaces stable entries too: they are shadowed until the driver overwrites them.
            self.offset = after
            self.entries = list(ents)
        else:
            del self.entries[after - self.offset :]
            self.entries.extend(ents)

    def stable_to(self, index: int, term: int) -> None:
        if self.term(index) == term and index >= self.offset:
            del self.entries[: index + 1 - self.offset]
            self.offset = index + 1

    def stable_snapshot_to(self, index: int) -> None:
        if self.snapshot is not None and self.snapshot.metadata.index == index:
            self.snapshot = None

    def restore(self, snapshot: Snapshot) -> None:
        self.offset = snapshot.metadata.index + 1
        self.entries = []
        self.snapshot = snapshot


class RaftLog:
    __slots__ = ("applied", "committed", "storage", "unstable")

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.unstable = Unstable(storage.last_index() + 1)
        # Everything up to the snapshot is committed and applied by definition (entries before
        # it may still be in storage: compaction can lag). The rest is replayed up to the
        # durable commit index, which RaftCore restores from HardState.
        self.committed = max(storage.first_index() - 1, storage.snapshot().metadata.index)
        self.applied = self.committed

    # -- reading --------------------------------------------------------------------------

    def first_index(self) -> int:
        i = self.unstable.first_index()
        return self.storage.first_index() if i is None else i

    def last_index(self) -> int:
        i = self.unstable.last_index()
        return self.storage.last_index() if i is None else i

    def stable_last_index(self) -> int:
        """The last index that is durable (what a leader may count as its own replica)."""
        if self.unstable.snapshot is not None:
            return self.storage.last_index()
        return self.unstable.offset - 1

    def term(self, index: int) -> int:
        """The term at index; 0 beyond the last entry; Compacted below the snapshot index."""
        t = self.unstable.term(index)
        if t is not None:
            return t
        if index < self.first_index() - 1:
            raise Compacted(index)
        if index > self.last_index():
            return 0
        return self.storage.term(index)

    def last_term(self) -> int:
        return self.term(self.last_index())

    def match_term(self, index: int, term: int) -> bool:
        try:
            return self.term(index) == term
        except Compacted:
            return False

    def is_up_to_date(self, last_index: int, last_term: int) -> bool:
        """Is a candidate's log (last_index, last_term) at least as up to date as ours (5.4.1)?"""
        our_term = self.last_term()
        return last_term > our_term or (last_term == our_term and last_index >= self.last_index())

    def slice(self, lo: int, hi: int, max_size: int | None = None) -> list[Entry]:
        """Entries [lo, hi) limited to max_size bytes; Compacted if lo is below first_index."""
        if lo < self.first_index():
            raise Compacted(lo)
        if lo >= hi:
            return []
        u = self.unstable
        ents: list[Entry] = []
        if lo < u.offset:
            stable_hi = min(hi, u.offset)
            ents = self.storage.entries(lo, stable_hi, max_size)
            if len(ents) < stable_hi - lo or hi <= u.offset:
                return ents  # cut by size, or nothing unstable requested
        if hi > u.offset:
            tail = u.entries[max(lo, u.offset) - u.offset : hi - u.offset]
            ents = tail if not ents else ents + tail
        return limit_size(ents, max_size)

    def find_conflict_by_term(self, index: int, term: int) -> int:
        """The largest j <= index with term(j) <= term: where a rejecting log can next match.

        Lets the leader skip a whole divergent term per round trip instead of one entry.
        Stops at the compaction point, whose term is known.
        """
        floor = self.first_index() - 1
        while index > floor and self.term(index) > term:
            index -= 1
        return index

    # -- changing ---------------------------------------------------------------------------

    def append(self, ents: Sequence[Entry]) -> int:
        if ents:
            if ents[0].index <= self.committed:
                raise AssertionError(f"appending at {ents[0].index} would rewrite committed {self.committed}")
            self.unstable.truncate_and_append(ents)
        return self.last_index()

    def maybe_append(self, index: int, log_term: int, commit: int, ents: Sequence[Entry]) -> int | None:
        """A leader's entries after (index, log_term): the new last verified index, or None."""
        if not self.match_term(index, log_term):
            return None
        last_new = index + len(ents)
        if ents:
            conflict = self._find_conflict(ents)
            if conflict:
                if conflict <= self.committed:
                    raise AssertionError(f"entry {conflict} conflicts with committed {self.committed}")
                self.append(ents[conflict - ents[0].index :])
        # Only up to last_new: entries past it were not in this message, so not verified.
        self.commit_to(min(commit, last_new))
        return last_new

    def _find_conflict(self, ents: Sequence[Entry]) -> int:
        """First index whose term differs from ours or that we lack; 0 if we hold them all."""
        last = self.last_index()
        if ents[0].index > last:
            return ents[0].index  # the common case: a pure extension
        for e in ents:
            if e.index > last or self.term(e.index) != e.term:
                return e.index
        return 0

    def commit_to(self, index: int) -> None:
        if index > self.committed:
            if index > self.last_index():
                raise AssertionError(f"commit {index} is beyond the last index {self.last_index()}")
            self.committed = index

    def maybe_commit(self, index: int, term: int) -> bool:
        """Commit up to index only if that entry is from `term` (Raft 5.4.2, Figure 8)."""
        if index > self.committed and self.term(index) == term:
            self.committed = index
            return True
        return False

    def applied_to(self, index: int) -> None:
        if index > self.applied:
            if index > self.committed:
                raise AssertionError(f"applying {index} beyond the commit index {self.committed}")
            self.applied = index

    def restore(self, snapshot: Snapshot) -> None:
        self.committed = snapshot.metadata.index
        self.unstable.restore(snapshot)

    def stable_to(self, index: int, term: int) -> None:
        self.unstable.stable_to(index, term)

    def stable_snapshot_to(self, index: int) -> None:
        self.unstable.stable_snapshot_to(index)

    # -- for Ready --------------------------------------------------------------------------

    def committed_to_apply(self, max_size: int) -> list[Entry]:
        """Committed entries not yet applied (after any pending snapshot), size-limited."""
        lo = max(self.applied + 1, self.first_index())
        if self.committed < lo:
            return []
        return self.slice(lo, self.committed + 1, max_size)

    def has_committed_to_apply(self) -> bool:
        return self.committed >= max(self.applied + 1, self.first_index())
