"""RaftNode: the asyncio driver that wires the pure core to durable storage, the peer transport
and the application's state machine.

One loop owns the core. Everything that wants the core (peer messages, ticks, proposals, reads,
membership requests) is queued as a callable and run between two Ready cycles; while a Ready's
fsync runs, new proposals pile up and then share the next fsync (group commit). The cycle
follows the order RaftCore documents: send, persist, send what acknowledges the persisted
state, install a snapshot, apply, release reads, advance.

Latency (one proposal, 3 members): the leader's entries leave before its own fsync, which runs
in a thread while the followers fsync theirs; a follower acks right after its fsync, before it
applies; a commit notice (an AppendEntries without entries) waits a few milliseconds for the
next entries to carry it (Outbox); a proposer's result reaches it in one loop step.

Results reach the proposer exactly once: a proposal is keyed by its log index and term, and is
resolved when that index is applied: with the state machine's result if the entry there is
ours, with ProposalLost if another leader's entry took the index. A proposal still undecided at
its deadline raises OutcomeUnknown rather than guess.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import os
import random
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import grpc

from alcor.internal import peer_pb2, peer_pb2_grpc

from .config import Config
from .core import RaftCore
from .errors import NotLeader, OutcomeUnknown, ProposalDropped, ProposalLost, RaftError, ReadTimeout
from .lmdb_storage import LmdbStorage
from .transport import PeerTransport, TlsFiles, error_from_code, error_from_status
from .types import (
    NONE,
    ConfChange,
    ConfChangeType,
    ConfState,
    Entry,
    EntryType,
    Message,
    MessageType,
    Ready,
    Role,
)
from .wire import decode_conf_change, encode_conf_change

T = TypeVar("T")
log = logging.getLogger(__name__)


class StateMachine(Protocol):
    """The application replicated by Raft (the controller's network state machine)."""

    def applied_index(self) -> int:
        """The last log index whose effects are stored (durably with the state itself)."""
        ...

    def apply(self, entries: Sequence[Entry]) -> list[bytes | None]:
        """Apply committed entries in order, recording the last index as applied in the same
        transaction. One result per entry: bytes for NORMAL entries, None for the others."""
        ...

    def snapshot(self) -> tuple[int, bytes]:
        """A consistent image of the state and the applied index it covers (called off-loop)."""
        ...

    def restore(self, index: int, data: bytes) -> None:
        """Replace the state with a snapshot image taken at index."""
        ...


@dataclass(frozen=True, slots=True)
class MemberInfo:
    id: str
    peer_address: str
    api_address: str
    learner: bool


@dataclass(frozen=True, slots=True)
class NodeStatus:
    id: str
    role: Role
    leader: str
    term: int
    commit_index: int
    applied_index: int
    members: tuple[MemberInfo, ...]
    # as seen by the leader: member id -> match index (empty elsewhere)
    match: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class _Proposal:
    term: int
    future: asyncio.Future[bytes | None]


@dataclass(slots=True)
class _Forward:
    """A follower's proposal waiting to be forwarded to the leader."""

    data: bytes
    future: asyncio.Future[bytes | None]
    deadline: float  # loop time
    sent: bool = False  # not sent: certainly not appended


@dataclass(slots=True, eq=False)
class _ReadRound:
    """Linearizable reads answered by one ReadIndex request (re-sent with a fresh context if
    no answer comes: a request lost with a leader change is otherwise never answered)."""

    future: asyncio.Future[int]
    waiters: int = 0
    contexts: list[bytes] = field(default_factory=list)
    retry: asyncio.TimerHandle | None = None


# Entry bytes a Ready may carry and still be written on the loop (beyond: in a worker thread).
INLINE_WRITE_BYTES = 256 << 10
# Ticks before an unanswered ReadIndex request is sent again (with a fresh context).
READ_RETRY_TICKS = 10
# How long an AppendEntries without entries may wait for entries to ride along (see Outbox).
COMMIT_NOTICE_DELAY = 0.005
# how long a removed member stays reachable, for the leader's farewell heartbeat to arrive
DEPARTING_GRACE_S = 2.0


class Outbox:
    """Decides which of a Ready's messages leave at once.

    An AppendEntries without entries (a commit notice, or a probe) may wait a few milliseconds:
    a later AppendEntries to the same member replaces it, since that carries the same or a newer
    commit index and probes the same log. Under load the new commit index then rides on the next
    entries instead of costing every follower one more message, reply and Ready, on the path
    where the next proposals' messages wait. Raft's safety never depends on a message arriving:
    holding one back or dropping a replaced one is what any network may do.
    """

    def __init__(self) -> None:
        self.held: dict[str, Message] = {}

    def sort(self, messages: Sequence[Message]) -> list[Message]:
        """The messages to send now; empty AppendEntries are held until release()."""
        now = []
        for m in messages:
            if m.type == MessageType.APPEND:
                if not m.entries:
                    self.held[m.to_id] = m
                    continue
                self.held.pop(m.to_id, None)
            now.append(m)
        return now

    def release(self) -> list[Message]:
        held, self.held = list(self.held.values()), {}
        return held


def member_context(peer: str, api: str) -> bytes:
    return peer_pb2.MemberAddress(peer=peer, api=api).SerializeToString()


def bootstrap_storage(path: str, members: dict[str, tuple[str, str]], sync: bool = True) -> LmdbStorage:
    """Open a founding member's storage; on first start write the founding membership as the
    first committed entries, each carrying the member's addresses (a no-op on restarts)."""
    from .types import HardState

    storage = LmdbStorage(path, sync=sync)
    if storage.last_index() == 0 and storage.initial_state()[0] == HardState():
        ents = [
            Entry(
                1,
                i,
                EntryType.CONF_CHANGE,
                encode_conf_change(ConfChange(ConfChangeType.ADD_VOTER, mid, member_context(*members[mid]))),
            )
            for i, mid in enumerate(sorted(members), start=1)
        ]
        storage.save(HardState(term=1, commit=len(ents)), ents, None)
    return storage


def _addresses(snapshot: peer_pb2.NodeSnapshot) -> dict[str, tuple[str, str]]:
    """Member id -> (peer address, API address), as a snapshot records them."""
    return {mid: (a.peer, a.api) for mid, a in snapshot.members.items()}


def _deadline(fut: asyncio.Future[bytes | None], timeout: float, why: str) -> asyncio.Future[bytes | None]:
    """fut, failed with OutcomeUnknown unless decided within timeout. A timer rather than
    wait_for(shield(...)): the result then reaches the caller in one loop step, not three."""
    timer = asyncio.get_running_loop().call_later(timeout, _give_up, fut, why)
    fut.add_done_callback(lambda _: timer.cancel())
    return fut


def _give_up(fut: asyncio.Future[bytes | None], why: str) -> None:
    if not fut.done():  # the entry may still be applied later: its outcome is then dropped
        fut.set_exception(OutcomeUnknown(why))


class RaftNode:
    """One Raft member: call `start()` inside a running loop, after adding `transport` to the
    gRPC server that listens on this member's peer address."""

    def __init__(
        self,
        config: Config,
        storage: LmdbStorage,
        state_machine: StateMachine,
        *,
        secret: str | None = None,
        tls: TlsFiles | None = None,
        tick_seconds: float = 0.05,
        snapshot_entries: int = 20_000,
        rng: random.Random | None = None,
        known_members: dict[str, tuple[str, str]] | None = None,
    ) -> None:
        self.id = config.id
        self.storage = storage
        self.sm = state_machine
        self.tick_seconds = tick_seconds
        self.snapshot_entries = snapshot_entries
        self.transport = PeerTransport(self.id, self._on_message, secret=secret, tls=tls)
        self.transport.on_propose = self._serve_forwarded
        # the stored snapshot, parsed once: its data carries the whole state machine image
        stored = self._stored_snapshot()
        self._restore_if_behind(stored)
        # the state machine's applied index, kept here: asking it costs a read transaction
        self._applied = state_machine.applied_index()
        self.core = RaftCore(config, storage, rng or random.Random())
        # a joining member's log is empty: it learns where its peers are from whoever added it
        # (known_members), until replaying the log's membership changes replaces that
        self.addresses: dict[str, tuple[str, str]] = {
            **(known_members or {}),
            **_addresses(stored),
        }
        # (index, membership) after each applied change since the snapshot: a snapshot taken
        # off-loop at index i must carry the membership as of i, not as of now
        self._conf_history: list[tuple[int, ConfState]] = [
            (storage.snapshot().metadata.index, self.core.conf_state)
        ]
        self._inbox: deque[Callable[[], None]] = deque()
        self._wake = asyncio.Event()
        self._proposals: dict[int, _Proposal] = {}
        self._reads: dict[bytes, asyncio.Future[int]] = {}
        self._forward_next: list[_Forward] = []  # proposals for the next forwarding request
        self._forwarding: dict[str, asyncio.Task[None]] = {}  # by leader: the request in flight
        self._chained: set[asyncio.Future[bytes | None]] = set()  # see _background
        self._read_next: _ReadRound | None = None  # reads waiting for the round in flight
        self._read_sent: _ReadRound | None = None  # the round in flight
        self._ready_reads: list[tuple[int, bytes]] = []  # (index, ctx) awaiting apply
        self._applied_waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._snapshotting = False
        self._snapshot_task: asyncio.Task[None] | None = None
        # the node's own threads for storage and state-machine work: stop() waits for them, so
        # no thread still writes when the caller closes the stores (a cancelled task's thread
        # runs on)
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix=f"raft-{self.id}")
        self._outbox = Outbox()
        self._release_timer: asyncio.TimerHandle | None = None
        self.leader = NONE
        self.role = Role.FOLLOWER
        self.stopped = False
        # set once this member applied its own removal, or a peer refused its campaign saying
        # it was removed at an index it has not applied (its state no longer moves)
        self.removed = asyncio.Event()
        # member id -> log index of its removal; kept in snapshots (NodeSnapshot.removed_at)
        self._removed_at: dict[str, int] = dict(stored.removed_at)
        self.transport.removed_at = self._removed_at.get
        self.transport.on_removed = self._told_removed
        self._departing: dict[str, str] = {}  # removed peers still reachable: id -> host:port
        # for metrics: how well proposals share Readies (and so fsyncs)
        self.counters = {"readies": 0, "entries_persisted": 0, "entries_applied": 0}

    # -- lifecycle ----------------------------------------------------------------------------

    def _stored_snapshot(self) -> peer_pb2.NodeSnapshot:
        """The snapshot in storage (empty when there is none)."""
        data = self.storage.snapshot().data
        return peer_pb2.NodeSnapshot.FromString(data) if data else peer_pb2.NodeSnapshot()

    def _restore_if_behind(self, stored: peer_pb2.NodeSnapshot) -> None:
        index = self.storage.snapshot().metadata.index
        if index > self.sm.applied_index():
            # the state machine lost what the compacted log no longer holds (or never had it)
            self.sm.restore(index, stored.app)

    async def start(self) -> None:
        self._update_peers()
        self._tasks = [asyncio.create_task(self._run()), asyncio.create_task(self._ticker())]
        self._wake.set()

    async def stop(self) -> None:
        self.stopped = True
        if self._release_timer is not None:
            self._release_timer.cancel()
        forwarding = [*self._forwarding.values()]
        snapshotting = [self._snapshot_task] if self._snapshot_task is not None else []
        for t in [*self._tasks, *forwarding, *snapshotting]:
            t.cancel()
        for t in [*self._tasks, *forwarding, *snapshotting]:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        await asyncio.get_running_loop().run_in_executor(None, self._executor.shutdown, True)
        for fw in self._forward_next:
            if not fw.future.done():
                fw.future.set_exception(OutcomeUnknown("the node stopped before the proposal was forwarded"))
        await self.transport.close()
        for p in self._proposals.values():
            if not p.future.done():
                p.future.set_exception(OutcomeUnknown("the node stopped before the proposal was decided"))
        for f in [*self._reads.values(), *([self._read_next.future] if self._read_next else [])]:
            if not f.done():
                f.set_exception(ReadTimeout("the node stopped"))

    # -- inputs -------------------------------------------------------------------------------

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def _submit(self, fn: Callable[[], None]) -> None:
        self._inbox.append(fn)
        self._wake.set()

    def _on_message(self, m: object) -> None:
        self._submit(lambda: self.core.step(m))  # type: ignore[arg-type]

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self.tick_seconds)
            self._submit(self.core.tick)

    # -- the loop -----------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            self._drain_inbox()
            while self.core.has_ready():
                await self._handle(self.core.ready())
                self._drain_inbox()  # what arrived during the fsync joins the next Ready
            self._maybe_snapshot()

    def _drain_inbox(self) -> None:
        while self._inbox:
            fn = self._inbox.popleft()
            try:
                fn()
            except (RaftError, ValueError) as e:  # a refused request was already answered by fn
                log.debug("raft request refused: %s", e)

    async def _handle(self, rd: Ready) -> None:
        self.counters["readies"] += 1
        self.counters["entries_persisted"] += len(rd.entries)
        self.counters["entries_applied"] += len(rd.committed_entries)
        if rd.soft_state is not None:
            self._on_soft_state(rd.soft_state.lead, rd.soft_state.role)
        self._send(rd.messages)
        if rd.snapshot is not None or sum(e.size() for e in rd.entries) > INLINE_WRITE_BYTES:
            # large (a snapshot, a catching-up follower's batch): written off the loop as a whole
            await self._in_thread(self.storage.save, rd.hard_state, rd.entries, rd.snapshot, rd.must_sync)
        elif rd.hard_state is not None or rd.entries:
            # The transaction is small and written here; the flush, which holds no Python lock,
            # goes to a thread: a leader's entries travel to followers, and their acks come back,
            # while it flushes (thesis 10.2.1), and the loop keeps serving (API calls, watches,
            # agent streams) and queueing proposals, which then share the next flush (group
            # commit) instead of waiting one fsync each. Flushing in place looks cheaper for a
            # lone write, but measured end to end it stalls the streams the loop also serves
            # (a goal-state snapshot took 5x longer).
            written = self.storage.write(rd.hard_state, rd.entries, None)
            if rd.must_sync:
                await self._in_thread(self.storage.flush)
            self.storage.publish(written)
        self._send(rd.persisted_messages)
        if rd.persisted_messages and rd.committed_entries:
            await asyncio.sleep(0)  # let the acknowledgements leave before applying
        if rd.snapshot is not None:
            snap = peer_pb2.NodeSnapshot.FromString(rd.snapshot.data)
            await self._in_thread(self.sm.restore, rd.snapshot.metadata.index, snap.app)
            self._applied = self.sm.applied_index()
            self.addresses = _addresses(snap)
            self._removed_at.update(snap.removed_at)  # in place: the transport reads this dict
            self._conf_history = [(rd.snapshot.metadata.index, rd.snapshot.metadata.conf_state)]
            self._update_peers()
        if rd.committed_entries:
            await self._apply(rd.committed_entries)
        for rs in rd.read_states:
            bisect.insort(self._ready_reads, (rs.index, rs.context))
        self._release_reads()
        self.core.advance(rd)
        if any(e.type == EntryType.CONF_CHANGE for e in rd.committed_entries):
            self._conf_history.append((rd.committed_entries[-1].index, self.core.conf_state))

    def _send(self, messages: list[Message]) -> None:
        now = self._outbox.sort(messages)
        if now:
            self.transport.send(now)
        if self._outbox.held and self._release_timer is None:
            delay = min(COMMIT_NOTICE_DELAY, self.tick_seconds / 2)
            self._release_timer = asyncio.get_running_loop().call_later(delay, self._release_held)

    def _release_held(self) -> None:
        self._release_timer = None
        self.transport.send(self._outbox.release())

    def _on_soft_state(self, lead: str, role: Role) -> None:
        if role != self.role or lead != self.leader:
            log.info("%s: role %s, leader %s", self.id, role.name, lead or "-")
        # reads pending on a deposed leader are dropped by the core: they time out, unserved
        changed = lead != self.leader or role != self.role
        self.leader, self.role = lead, role
        if changed:
            self._pump_forwards()  # proposals held behind a request to the old leader go now

    async def _apply(self, entries: list[Entry]) -> None:
        fresh = [e for e in entries if e.index > self._applied]
        for e in entries:
            if e.type == EntryType.CONF_CHANGE:
                self._note_conf_change(decode_conf_change(e.data), e.index)
        # in a thread: applying (and the state machine's own commit) must not stall the loop,
        # which meanwhile serves reads and streams and gathers the next proposals
        results = await self._in_thread(self.sm.apply, fresh) if fresh else []
        if fresh:
            self._applied = fresh[-1].index
        by_index = {e.index: (e, r) for e, r in zip(fresh, results, strict=True)}
        for e in entries:
            p = self._proposals.pop(e.index, None)
            if p is None or p.future.done():
                continue
            if e.term != p.term:
                p.future.set_exception(ProposalLost(f"index {e.index} was taken by another leader's entry"))
            elif e.index in by_index:
                p.future.set_result(by_index[e.index][1])
            else:  # applied before a restart of this process: the result is not kept
                p.future.set_result(None)
        applied = entries[-1].index
        still = []
        for index, seq, fut in self._applied_waiters:
            if index <= applied:
                if not fut.done():
                    fut.set_result(None)
            else:
                still.append((index, seq, fut))
        self._applied_waiters = still

    def _note_conf_change(self, cc: ConfChange, index: int) -> None:
        if cc.type == ConfChangeType.REMOVE and cc.node_id == self.id and not self.removed.is_set():
            # only its own removal, committed, says so: a joining member's snapshot may predate
            # its addition, so "not in the configuration" alone does not
            log.warning("%s: removed from the cluster", self.id)
            self.removed.set()
        if cc.type == ConfChangeType.REMOVE:
            self._removed_at[cc.node_id] = index
        else:
            self._removed_at.pop(cc.node_id, None)  # added back
        if cc.type == ConfChangeType.REMOVE:
            gone = self.addresses.pop(cc.node_id, None)
            if gone is not None and cc.node_id != self.id:
                # kept reachable a little longer: the leader's farewell (core) must get there
                loop = asyncio.get_running_loop()
                self._departing[cc.node_id] = gone[0]
                loop.call_later(DEPARTING_GRACE_S, self._forget_departed, cc.node_id)
        elif cc.context:
            a = peer_pb2.MemberAddress.FromString(cc.context)
            self.addresses[cc.node_id] = (a.peer, a.api)
            self._departing.pop(cc.node_id, None)
        self._update_peers()

    def _told_removed(self, index: int) -> None:
        """A peer refused this node's campaign: the cluster removed it at `index`."""
        if self._applied < index and not self.removed.is_set():
            # it missed its removal (unreachable then, or restarted since): it never hears from
            # a leader again, and would campaign for ever
            log.warning("%s: a peer says it was removed from the cluster at index %d", self.id, index)
            self.removed.set()

    def _forget_departed(self, member_id: str) -> None:
        if self._departing.pop(member_id, None) is not None and not self.stopped:
            self._update_peers()

    def _update_peers(self) -> None:
        peers = dict(self._departing)
        peers.update((mid, peer) for mid, (peer, _) in self.addresses.items())
        self.transport.set_peers(peers)


    def _release_reads(self) -> None:
        applied = self._applied
        while self._ready_reads and self._ready_reads[0][0] <= applied:
            _, ctx = self._ready_reads.pop(0)
            fut = self._reads.pop(ctx, None)
            if fut is not None and not fut.done():
                fut.set_result(applied)

    def _maybe_snapshot(self) -> None:
        base = self.storage.snapshot().metadata.index
        if self._snapshotting or self._applied - base < self.snapshot_entries:
            return
        self._snapshotting = True
        self._snapshot_task = asyncio.create_task(self._snapshot())

    async def _snapshot(self) -> None:
        try:
            index, app = await self._in_thread(self.sm.snapshot)
            conf = self.core.conf_state
            for at, cs in self._conf_history:
                if at <= index:
                    conf = cs
            members = {mid: peer_pb2.MemberAddress(peer=p, api=a) for mid, (p, a) in self.addresses.items()}
            snapshot = peer_pb2.NodeSnapshot(members=members, app=app, removed_at=self._removed_at)
            data = snapshot.SerializeToString()
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

            def record() -> None:
                if index > self.storage.snapshot().metadata.index:
                    self.storage.create_snapshot(index, conf, data, compact=True)
                    self._conf_history = [(i, c) for i, c in self._conf_history if i >= index] or [
                        (index, conf)
                    ]
                done.set_result(None)

            self._submit(record)
            await done
            log.info("%s: snapshot at %d (%d bytes), log compacted", self.id, index, len(data))
        finally:
            self._snapshotting = False

    # -- proposals ------------------------------------------------------------------------------

    async def propose(self, data: bytes, timeout: float = 5.0) -> bytes | None:
        """Replicate data and return the state machine's result, on any member (a follower
        forwards to the leader). Raises NotLeader when no leader is known, ProposalLost when
        the entry was certainly not applied, OutcomeUnknown when its fate is unknown.

        A follower keeps one forwarding request in flight per leader; the proposals that arrive
        meanwhile go together in the next (one RPC, and on the leader one Ready and one fsync,
        for all of them). A new leader gets the waiting ones at once."""
        if self.role == Role.LEADER:
            return await self._propose_local(data, timeout)
        leader = self.leader
        if leader == NONE or leader not in self.addresses:
            raise NotLeader(leader)
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[bytes | None] = loop.create_future()
        waiting = _Forward(data, fut, loop.time() + timeout)
        self._forward_next.append(waiting)
        self._pump_forwards()
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.shield(fut)
        except TimeoutError:
            if not waiting.sent:
                raise NotLeader(self.leader) from None
            raise OutcomeUnknown(f"forwarded to {leader}: not decided within {timeout:.1f}s") from None
        finally:
            fut.cancel()  # no-op when decided; otherwise it is not sent, or its answer is dropped

    def _pump_forwards(self) -> None:
        """Send the waiting proposals unless a request to the current leader is in flight
        (or no leader is known: they wait for one, until their callers give up)."""
        leader = self.leader
        if not self._forward_next or self.stopped or leader in self._forwarding:
            return
        if self.role != Role.LEADER and (leader == NONE or leader not in self.addresses):
            return
        batch = [f for f in self._forward_next if not f.future.done()]
        self._forward_next = []
        for f in batch:
            f.sent = True
        if not batch:
            return
        if self.role == Role.LEADER:  # it became the leader while they waited
            loop = asyncio.get_running_loop()
            for f in batch:
                self._background(self._propose_local(f.data, f.deadline - loop.time()), f.future)
            return
        task = asyncio.create_task(self._forward(leader, batch))
        self._forwarding[leader] = task

        def sent(_: object) -> None:
            if self._forwarding.get(leader) is task:
                del self._forwarding[leader]
            self._pump_forwards()

        task.add_done_callback(sent)

    def _background(self, work: Awaitable[bytes | None], target: asyncio.Future[bytes | None]) -> None:
        """Run work, held until done, and give its outcome to target (unless target is done)."""
        task = asyncio.ensure_future(work)
        self._chained.add(task)

        def copy(_: object) -> None:
            self._chained.discard(task)
            if task.cancelled():
                target.cancel()
                return
            error = task.exception()  # retrieved even when nobody waits any more
            if target.done():
                return
            if error is not None:
                target.set_exception(error)
            else:
                target.set_result(task.result())

        task.add_done_callback(copy)

    async def _forward(self, leader: str, batch: list[_Forward]) -> None:
        loop = asyncio.get_running_loop()
        try:
            stub = peer_pb2_grpc.RaftPeerStub(self.transport.channel_to(leader))
            reply = await stub.Propose(
                peer_pb2.ProposeRequest(proposals=[f.data for f in batch]),
                timeout=max(0.001, max(f.deadline for f in batch) - loop.time()),
                metadata=self.transport.metadata(),
            )
        except asyncio.CancelledError:  # the node stopped: they may have reached the leader
            for f in batch:
                if not f.future.done():
                    f.future.set_exception(OutcomeUnknown(f"forwarded to {leader}; the node stopped"))
            raise
        except (NotLeader, grpc.aio.AioRpcError) as e:
            for f in batch:
                if not f.future.done():
                    f.future.set_exception(
                        error_from_status(e, leader) if isinstance(e, grpc.aio.AioRpcError) else NotLeader(leader)
                    )
            return
        if len(reply.outcomes) != len(batch):
            reply.ClearField("outcomes")  # a peer that does not speak this protocol: fate unknown
            reply.outcomes.extend(
                peer_pb2.ProposeOutcome(code=grpc.StatusCode.UNKNOWN.value[0], detail="malformed reply")
                for _ in batch
            )
        for f, outcome in zip(batch, reply.outcomes, strict=True):
            if f.future.done():
                continue
            if outcome.code:
                f.future.set_exception(error_from_code(outcome.code, outcome.detail, leader))
            else:
                f.future.set_result(outcome.result)

    async def _propose_local(self, data: bytes, timeout: float) -> bytes | None:
        fut: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()

        def do() -> None:
            if fut.done():  # the caller gave up (timed out or cancelled) before it was proposed
                return
            try:
                index = self.core.propose(data)
            except (NotLeader, ProposalDropped) as e:
                fut.set_exception(e)
                raise
            self._proposals[index] = _Proposal(self.core.term, fut)

        self._submit(do)
        return await _deadline(fut, timeout, f"not decided within {timeout:.1f}s; it may still be applied")

    async def _serve_forwarded(self, data: bytes, context: grpc.aio.ServicerContext) -> bytes:
        remaining = context.time_remaining()
        timeout = min(remaining, 30.0) if remaining is not None else 5.0
        if self.role != Role.LEADER:
            raise NotLeader(self.leader)
        return await self._propose_local(data, timeout) or b""

    # -- reads --------------------------------------------------------------------------------

    async def linearizable_read(self, timeout: float = 5.0) -> int:
        """Wait until this member's state reflects every write acknowledged before the call;
        returns the applied index to serve at. Never returns on a deposed leader.

        One ReadIndex round is in flight at a time; reads that arrive meanwhile share the next
        (one context, one forward to the leader, one heartbeat acknowledgement), sent as soon as
        the round in flight is answered. A round is sent after every read in it arrived, which
        is all linearizability asks of it."""
        rnd = self._read_next
        if rnd is None:
            rnd = self._read_next = _ReadRound(asyncio.get_running_loop().create_future())
            rnd.future.add_done_callback(lambda _: self._read_done(rnd))
            if self._read_sent is None:
                self._send_read(rnd)
        rnd.waiters += 1
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.shield(rnd.future)
        except TimeoutError:
            raise ReadTimeout(f"leadership not confirmed within {timeout:.1f}s") from None
        finally:
            rnd.waiters -= 1
            if not rnd.waiters and not rnd.future.done():
                rnd.future.cancel()  # nobody waits for it any more

    def _send_read(self, rnd: _ReadRound) -> None:
        if self._read_next is rnd:
            self._read_next = None  # reads from now on need a round sent after they arrived
        self._read_sent = rnd
        ctx = os.urandom(16)  # unique per request; randomness is fine out here at the edge
        rnd.contexts.append(ctx)
        self._reads[ctx] = rnd.future
        loop = asyncio.get_running_loop()
        rnd.retry = loop.call_later(READ_RETRY_TICKS * self.tick_seconds, self._retry_read, rnd)

        def do() -> None:
            try:
                self.core.read_index(ctx)
            except NotLeader as e:
                if not rnd.future.done():
                    rnd.future.set_exception(e)
                raise

        self._submit(do)

    def _retry_read(self, rnd: _ReadRound) -> None:
        if not rnd.future.done():
            self._send_read(rnd)

    def _read_done(self, rnd: _ReadRound) -> None:
        """The round was answered, failed or abandoned: forget it, send the next one."""
        if rnd.retry is not None:
            rnd.retry.cancel()
        for ctx in rnd.contexts:
            self._reads.pop(ctx, None)
        if self._read_next is rnd:
            self._read_next = None
        if self._read_sent is rnd:
            self._read_sent = None
            if self._read_next is not None:
                self._send_read(self._read_next)

    async def wait_applied(self, index: int, timeout: float = 5.0) -> None:
        if self._applied >= index:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seq += 1
        self._applied_waiters.append((index, self._seq, fut))
        async with asyncio.timeout(timeout):
            await fut

    # -- membership and leadership ------------------------------------------------------------

    def status(self) -> NodeStatus:
        cs = self.core.conf_state
        members = tuple(
            MemberInfo(mid, *self.addresses.get(mid, ("", "")), learner=mid in cs.learners)
            for mid in sorted((*cs.voters, *cs.learners))
        )
        match = {}
        if self.role == Role.LEADER:
            for mid in (*cs.voters, *cs.learners):
                pr = self.core.progress(mid)
                if pr is not None:
                    match[mid] = pr.match
        return NodeStatus(
            self.id,
            self.role,
            self.leader,
            self.core.term,
            self.core.committed,
            self._applied,
            members,
            match,
        )

    async def _conf_change(self, cc: ConfChange, timeout: float) -> None:
        fut: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()

        def do() -> None:
            try:
                index = self.core.propose_conf_change(cc)
            except (NotLeader, ProposalDropped, ValueError) as e:
                fut.set_exception(e)
                raise RaftError(str(e)) from e
            self._proposals[index] = _Proposal(self.core.term, fut)

        self._submit(do)
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(fut)
        except TimeoutError:
            raise OutcomeUnknown("the membership change was not decided in time") from None

    async def add_member(
        self, member_id: str, peer: str, api: str, promote: bool = True, timeout: float = 60.0
    ) -> None:
        """Add a learner and, with promote, make it a voter once it has caught up (leader only)."""
        if member_id in self._removed_at:
            # its old removal is still in the log: a node joining under that id would replay it,
            # take it for its own and stop (a member has no incarnation of its own)
            raise ValueError(
                f"{member_id} was removed from the cluster (at index {self._removed_at[member_id]}) "
                "and a member id is not reused: join it under a new id"
            )
        await self._conf_change(
            ConfChange(ConfChangeType.ADD_LEARNER, member_id, member_context(peer, api)), 5.0
        )
        if not promote:
            return
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            pr = self.core.progress(member_id)
            if pr is None and self.role != Role.LEADER:
                raise NotLeader(self.leader)
            # caught up: within one batch of the commit index, so it will not stall commits
            if pr is not None and pr.match > 0 and self.core.committed - pr.match <= 64:
                break
            if asyncio.get_running_loop().time() > deadline:
                raise OutcomeUnknown(f"{member_id} is a learner that did not catch up in {timeout:.0f}s")
            await asyncio.sleep(self.tick_seconds)
        await self._conf_change(ConfChange(ConfChangeType.PROMOTE, member_id), 5.0)

    async def remove_member(self, member_id: str, timeout: float = 10.0) -> None:
        """Remove a member; a leader removing itself first hands leadership to another voter."""
        if member_id == self.id and self.role == Role.LEADER:
            await self.transfer_leader("", timeout)
            raise NotLeader(self.leader)  # the new leader performs the removal
        await self._conf_change(ConfChange(ConfChangeType.REMOVE, member_id), timeout)

    async def transfer_leader(self, target: str = "", timeout: float = 5.0) -> str:
        """Hand leadership to target (default: the most up-to-date other voter); returns it."""
        if self.role != Role.LEADER:
            raise NotLeader(self.leader)
        if not target:
            others = [v for v in self.core.conf_state.voters if v != self.id]
            if not others:
                raise ValueError("no other voter to transfer leadership to")
            target = max(others, key=lambda v: getattr(self.core.progress(v), "match", 0))
        chosen = target
        self._submit(lambda: self.core.transfer_leader(chosen))
        deadline = asyncio.get_running_loop().time() + timeout
        while self.leader != chosen:
            if asyncio.get_running_loop().time() > deadline:
                raise OutcomeUnknown(f"leadership did not move to {chosen} within {timeout:.1f}s")
            await asyncio.sleep(self.tick_seconds / 2)
        return chosen
