"""The network state as Raft's replicated state machine, and the facade servicers use.

`StoreStateMachine` adapts `state.Store` to `alcor.raft.node.StateMachine`: committed entries
are applied in one LMDB transaction per Ready, snapshots are a compacted copy of the LMDB
environment, and restore swaps the environment directory atomically. After each applied batch
it tells its listeners the new revision on their event loop (watch streams and the goal-state
engine follow it).

`Replica` is what the API servicers see: `submit(command)` proposes an envelope through Raft
from any member and returns the state machine's Result; `read_barrier(stale)` makes a read
linearizable (ReadIndex) unless the caller opted into a stale local read.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from alcor.controller.state import Store, StoreConfig, reads
from alcor.internal import command_pb2 as cmd
from alcor.raft.errors import OutcomeUnknown
from alcor.raft.node import RaftNode
from alcor.raft.types import Entry, EntryType
from alcor.v1 import network_pb2 as net

log = logging.getLogger(__name__)

Listener = Callable[[int], None]


class StoreStateMachine:
    """`Store` as a Raft state machine; results are serialized `alcor.internal.Result`s."""

    def __init__(self, path: str | Path, config: StoreConfig | None = None) -> None:
        self.path = Path(path)
        self.config = config or StoreConfig()
        self.store = Store(str(self.path), self.config)
        self._listeners: list[tuple[asyncio.AbstractEventLoop, Listener]] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call listener(revision) after every applied batch, on the event loop of the caller
        (Raft applies in a worker thread); returns an unsubscribe function."""
        entry = (asyncio.get_running_loop(), listener)
        self._listeners.append(entry)
        return lambda: self._listeners.remove(entry) if entry in self._listeners else None

    def _notify(self, revision: int) -> None:
        for loop, listener in list(self._listeners):
            loop.call_soon_threadsafe(_call, listener, revision)

    def applied_index(self) -> int:
        return self.store.applied_index

    def apply(self, entries: Sequence[Entry]) -> list[bytes | None]:
        commands = [(e.index, e.data) for e in entries if e.type == EntryType.NORMAL and e.data]
        results = dict(self.store.apply_batch(commands, applied_index=entries[-1].index))
        out: list[bytes | None] = [
            results[e.index].SerializeToString() if e.index in results else None for e in entries
        ]
        if results:
            self._notify(self.store.revision)
        return out

    def snapshot(self) -> tuple[int, bytes]:
        with tempfile.TemporaryDirectory(dir=self.path.parent) as tmp, self.store.read() as txn:
            # the copy is taken through txn, so the image and the index below agree
            self.store.env.copy(tmp, compact=True, txn=txn)
            index = reads.applied_index(self.store.schema, txn)
            return index, (Path(tmp) / "data.mdb").read_bytes()

    def restore(self, index: int, data: bytes) -> None:
        fresh = self.path.with_name(self.path.name + ".restore")
        shutil.rmtree(fresh, ignore_errors=True)
        fresh.mkdir(parents=True)
        with open(fresh / "data.mdb", "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        self.store.close()
        old = self.path.with_name(self.path.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(self.path, old)
        os.replace(fresh, self.path)
        shutil.rmtree(old, ignore_errors=True)
        self.store = Store(str(self.path), self.config)
        if self.store.applied_index != index:
            raise ValueError(f"snapshot image covers index {self.store.applied_index}, expected {index}")
        log.info("state restored from a snapshot at index %d (revision %d)", index, self.store.revision)
        self._notify(self.store.revision)

    def close(self) -> None:
        self.store.close()


def _call(listener: Listener, revision: int) -> None:
    try:
        listener(revision)
    except Exception:  # a broken watcher must not stop the others
        log.exception("applied-revision listener failed")


class Replica:
    """The replicated network state as the API servicers use it."""

    def __init__(self, node: RaftNode, sm: StoreStateMachine, *, propose_timeout: float = 5.0) -> None:
        self.node = node
        self.sm = sm
        self.propose_timeout = propose_timeout

    @property
    def store(self) -> Store:
        # a snapshot install replaces the Store: always go through the state machine
        return self.sm.store

    @property
    def member_id(self) -> str:
        return self.node.id

    async def submit(self, command: cmd.Command, timeout: float | None = None) -> cmd.Result:
        """Propose an envelope (from any member) and return its Result once applied.

        Raft errors propagate (NotLeader, ProposalLost, OutcomeUnknown); a retry with the same
        request_id is safe because apply deduplicates by it.
        """
        if not command.version:
            command.version = cmd.ENVELOPE_VERSION_1
        raw = await self.node.propose(command.SerializeToString(), timeout or self.propose_timeout)
        if not raw:
            # the entry was applied before this process restarted: the result is not kept here,
            # but the request-id table has it; the client's retry with the same id returns it
            raise OutcomeUnknown("the command was applied but its result was lost in a restart; retry it")
        return cmd.Result.FromString(raw)

    async def read_barrier(self, stale: bool = False, timeout: float = 5.0) -> None:
        """Return when this member's state includes every write acknowledged before the call
        (ReadIndex through the leader); with stale=True return at once."""
        if stale:
            return
        index = await self.node.linearizable_read(timeout)
        await self.node.wait_applied(index, timeout)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        return self.sm.subscribe(listener)

    def header(self, revision: int) -> net.ResponseHeader:
        """The header of a response served by this member at revision."""
        return net.ResponseHeader(revision=revision, member_id=self.node.id, raft_term=self.node.core.term)

