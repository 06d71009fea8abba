"""The agent's local copy of its goal state in `--state-dir`: a snapshot plus a journal of deltas.

`goalstate.snap` holds the whole goal state as one full `GoalStateUpdate` (written to a temporary
file, fsynced, renamed over the old one); `goalstate.log` holds the deltas applied since, one
record each, appended and fsynced. Records are framed as (length, crc32, bytes), so a record torn
by a crash is recognised and everything before it is kept. Loading replays the journal on the
snapshot, skipping records at or below the snapshot's revision (a crash between a snapshot's
rename and the journal's truncation leaves those) and stopping at the first record that does not
follow; the journal is cut there, so the next record follows the last good one. The journal is
folded into a new snapshot once it outgrows the snapshot, so a restart reads at most about twice
the goal state, and one delta costs one append.

A full update from the controller is saved as it came, so a snapshot of a million neighbors is
never re-encoded, and it is loaded as it was received (`columns.decode_update`).

A restarted agent thereby resumes from the revision it really has and re-programs nothing
(the reconciler compares this goal state with what the driver has installed).
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

from alcor.agent.dataplane.columns import Snapshot, Update, decode_update
from alcor.agent.dataplane.model import GoalState, OutOfOrder
from alcor.v1 import goalstate_pb2

log = logging.getLogger(__name__)

SNAPSHOT = "goalstate.snap"
JOURNAL = "goalstate.log"
_FRAME = struct.Struct("<II")  # length, crc32
MAGIC = b"alcor-goalstate-1"
# the journal is folded into a snapshot once it is larger than this and than the snapshot
MIN_COMPACT_BYTES = 1 << 20


class StateError(ValueError):
    """The state directory cannot be used (it belongs to another host, or is not writable)."""


def snapshot_of(goal: GoalState) -> goalstate_pb2.GoalStateUpdate:
    """The goal state as one full update (what a controller's snapshot of it would be)."""
    update = goalstate_pb2.GoalStateUpdate(base_revision=0, revision=goal.revision, full=True)
    upserts = update.upserts
    for field_name, table in (
        ("vpc", goal.vpcs),
        ("subnet", goal.subnets),
        ("port", goal.ports),
        ("neighbor", goal.neighbors),
        ("security_group", goal.security_groups),
        ("group_members", goal.group_members),
    ):
        for msg in table.values():
            getattr(upserts.add(), field_name).CopyFrom(msg)
    return update


def _frame(data: bytes) -> bytes:
    return _FRAME.pack(len(data), zlib.crc32(data)) + data


def _records(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(end offset, payload) of every intact record from the start; stops at the first bad one."""
    pos = 0
    while pos + _FRAME.size <= len(data):
        length, crc = _FRAME.unpack_from(data, pos)
        start, end = pos + _FRAME.size, pos + _FRAME.size + length
        if end > len(data) or zlib.crc32(data[start:end]) != crc:
            return
        yield end, data[start:end]
        pos = end


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class StateStore:
    """Not thread-safe: the agent calls it from one executor thread at a time."""

    def __init__(self, directory: str | os.PathLike[str], host_id: str, *, fsync: bool = True) -> None:
        self.dir = Path(directory)
        self.host_id = host_id
        self.fsync = fsync
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StateError(f"cannot create state dir {self.dir}: {e.strerror}") from None
        if not os.access(self.dir, os.W_OK | os.X_OK):
            raise StateError(f"state dir {self.dir} is not writable")
        self._snapshot_bytes = 0
        self._journal_bytes = 0
        self._journal: int | None = None  # fd, opened on first append

    @property
    def snapshot_path(self) -> Path:
        return self.dir / SNAPSHOT

    @property
    def journal_path(self) -> Path:
        return self.dir / JOURNAL

    # -- loading --------------------------------------------------------------------------------

    def load(self) -> GoalState | None:
        """The saved goal state, or None when there is none (or it is unreadable: a full snapshot
        from the controller then replaces it). A state dir of another host is an error."""
        try:
            data = self.snapshot_path.read_bytes()
        except FileNotFoundError:
            return None
        records = list(_records(data))
        if len(records) != 2 or not records[0][1].startswith(MAGIC + b"\0"):
            log.warning("ignoring unreadable goal-state snapshot %s", self.snapshot_path)
            return None
        owner = records[0][1][len(MAGIC) + 1 :].decode("utf-8", "replace")
        if owner != self.host_id:
            raise StateError(
                f"state dir {self.dir} holds the goal state of host {owner!r}, not {self.host_id!r}"
            )
        goal = GoalState(host_id=self.host_id).apply(decode_update(records[1][1]))
        self._snapshot_bytes = len(data)
        replayed = 0
        try:
            journal = self.journal_path.read_bytes()
        except FileNotFoundError:
            journal = b""
        kept = 0  # the journal up to the last record read
        for end, payload in _records(journal):
            update = goalstate_pb2.GoalStateUpdate.FromString(payload)
            if update.revision > goal.revision:
                try:
                    goal = goal.apply(update)
                except OutOfOrder as e:
                    log.warning("goal-state journal stops at revision %d: %s", goal.revision, e)
                    break
                replayed += 1
            kept = end
        if kept < len(journal):
            # a torn or unusable tail must not sit before the next append: cut it (rewriting the
            # snapshot instead would re-encode every neighbor of a large one)
            self._truncate_journal(kept)
        self._journal_bytes = kept
        log.info(
            "loaded goal state of %s at revision %d (%d journaled deltas)",
            self.host_id,
            goal.revision,
            replayed,
        )
        return goal

    # -- saving ---------------------------------------------------------------------------------

    def save_snapshot(self, goal: GoalState) -> None:
        """Replace everything saved with `goal` (atomically: the old snapshot stays until the new
        one is complete), then empty the journal."""
        self._save(snapshot_of(goal).SerializeToString())

    def _save(self, snapshot: bytes) -> None:
        """`save_snapshot` of a full update's encoding."""
        header = MAGIC + b"\0" + self.host_id.encode()
        data = _frame(header) + _frame(snapshot)
        tmp = self.dir / (SNAPSHOT + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            if self.fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, self.snapshot_path)
        if self.fsync:
            _fsync_dir(self.dir)
        self._snapshot_bytes = len(data)
        self._close_journal()
        with open(self.journal_path, "wb"):
            pass
        self._journal_bytes = 0

    def append(self, update: Update, goal: GoalState) -> None:
        """Record `update` (already applied, giving `goal`). A full update is saved as the new
        snapshot as it came (a snapshot decoded column-wise is never re-encoded); a delta with no
        snapshot before it, or a journal grown past the snapshot, saves `goal` instead."""
        if isinstance(update, Snapshot):
            self._save(update.raw)
            return
        if update.full:
            self._save(update.SerializeToString())
            return
        if not self._snapshot_bytes:
            self.save_snapshot(goal)
            return
        record = _frame(update.SerializeToString())
        if self._journal_bytes + len(record) > max(MIN_COMPACT_BYTES, self._snapshot_bytes):
            self.save_snapshot(goal)
            return
        if self._journal is None:
            self._journal = os.open(self.journal_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.write(self._journal, record)
        if self.fsync:
            os.fsync(self._journal)
        self._journal_bytes += len(record)

    def _truncate_journal(self, size: int) -> None:
        fd = os.open(self.journal_path, os.O_WRONLY)
        try:
            os.ftruncate(fd, size)
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)

    def _close_journal(self) -> None:
        if self._journal is not None:
            os.close(self._journal)
            self._journal = None

    def close(self) -> None:
        self._close_journal()
