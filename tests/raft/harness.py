"""A node driver for tests, and a small cluster with synchronous delivery for unit tests.

`SimNode` is what a real RaftNode does around a RaftCore, with MemoryStorage as the "disk":
drain Readies in the documented order (send, save, send persisted, apply, advance). A crash
drops the core and everything not saved; a restart rebuilds the core from storage and the
(volatile) state machine from storage's snapshot, then replays committed entries.

`Cluster` delivers messages at once, in order, through optional link cuts and a drop filter:
enough to set up the precise situations unit tests need (etcd's raft tests use the same shape).
"""

from __future__ import annotations

import hashlib
import random
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from alcor.raft import (
    ConfChange,
    ConfChangeType,
    Config,
    Entry,
    EntryType,
    MemoryStorage,
    Message,
    RaftCore,
    ReadState,
    Ready,
    Role,
    Snapshot,
)


def chain(digest: bytes, entry: Entry) -> bytes:
    """The state after applying entry to a state with this digest (order and content matter)."""
    h = hashlib.blake2b(digest, digest_size=16)
    h.update(struct.pack(">QQB", entry.index, entry.term, entry.type))
    h.update(entry.data)
    return h.digest()


class StateMachine:
    """Applied state as a hash chain over every applied entry, plus the data of recent ones.

    The snapshot image is (index, digest): installing one must reproduce the same chain that
    applying the entries would have, which the simulation checks.
    """

    def __init__(self, snapshot: Snapshot | None = None) -> None:
        self.applied = 0
        self.digest = b""
        self.entries: list[Entry] = []  # applied since the last snapshot install
        if snapshot is not None and snapshot.metadata.index:
            self.restore(snapshot)

    def apply(self, e: Entry) -> None:
        assert e.index == self.applied + 1, f"applying {e.index} after {self.applied}"
        self.applied = e.index
        self.digest = chain(self.digest, e)
        self.entries.append(e)

    def image(self) -> bytes:
        return struct.pack(">Q", self.applied) + self.digest

    def restore(self, snapshot: Snapshot) -> None:
        (index,) = struct.unpack(">Q", snapshot.data[:8])
        assert index == snapshot.metadata.index, "snapshot image and metadata disagree"
        self.applied = index
        self.digest = snapshot.data[8:]
        self.entries = []

    def data(self) -> list[bytes]:
        return [e.data for e in self.entries if e.type == EntryType.NORMAL]


class Hooks:
    """Observation points for invariant checkers (the default observes nothing)."""

    def on_ready(self, node: SimNode, rd: Ready) -> None:
        pass

    def on_apply(self, node: SimNode, e: Entry) -> None:
        pass

    def on_snapshot(self, node: SimNode, snap: Snapshot) -> None:
        pass


@dataclass
class NodeOptions:
    election_tick: int = 10
    heartbeat_tick: int = 1
    check_quorum: bool = True
    pre_vote: bool = True
    max_size_per_msg: int = 1 << 20
    max_inflight_msgs: int = 256
    max_committed_size_per_ready: int = 64 << 20

    def config(self, node_id: str) -> Config:
        return Config(
            id=node_id,
            election_tick=self.election_tick,
            heartbeat_tick=self.heartbeat_tick,
            check_quorum=self.check_quorum,
            pre_vote=self.pre_vote,
            max_size_per_msg=self.max_size_per_msg,
            max_inflight_msgs=self.max_inflight_msgs,
            max_committed_size_per_ready=self.max_committed_size_per_ready,
        )


@dataclass
class SimNode:
    id: str
    storage: MemoryStorage
    options: NodeOptions
    seed: int
    hooks: Hooks = field(default_factory=Hooks)
    core: RaftCore | None = None
    sm: StateMachine = field(default_factory=StateMachine)
    read_states: list[ReadState] = field(default_factory=list)
    incarnation: int = 0
    on_apply: Callable[[SimNode, Entry], None] | None = None

    def __post_init__(self) -> None:
        self.start()

    @property
    def alive(self) -> bool:
        return self.core is not None

    @property
    def raft(self) -> RaftCore:
        assert self.core is not None, f"{self.id} is down"
        return self.core

    def start(self) -> None:
        self.incarnation += 1
        rng = random.Random(self.seed * 1000 + self.incarnation)
        self.core = RaftCore(self.options.config(self.id), self.storage, rng)
        self.sm = StateMachine(self.storage.snapshot())
        self.read_states = []

    def crash(self) -> None:
        self.core = None

    def process(self, send: Callable[[Message], None], crash_at: str | None = None) -> None:
        """Drain every Ready. crash_at ("before_save" / "after_save") crashes mid-way."""
        core = self.core
        while core is not None and core.has_ready():
            rd = core.ready()
            self.hooks.on_ready(self, rd)
            for m in rd.messages:
                send(m)
            if crash_at == "before_save":
                self.crash()
                return
            self.storage.save(rd.hard_state, rd.entries, rd.snapshot)
            if crash_at == "after_save":
                self.crash()
                return
            for m in rd.persisted_messages:
                send(m)
            if rd.snapshot is not None:
                self.sm.restore(rd.snapshot)
                self.hooks.on_snapshot(self, rd.snapshot)
            for e in rd.committed_entries:
                self.sm.apply(e)
                self.hooks.on_apply(self, e)
                if self.on_apply is not None:
                    self.on_apply(self, e)
            self.read_states.extend(rd.read_states)
            core.advance(rd)

    def snapshot_and_compact(self, keep: int = 0) -> bool:
        """The application's snapshot at its applied index, then compaction (keeping `keep`)."""
        core = self.raft
        index = self.sm.applied
        if index <= self.storage.snapshot().metadata.index:
            return False
        self.storage.create_snapshot(index, core.conf_state, self.sm.image())
        self.storage.compact(max(index - keep, self.storage.first_index() - 1))
        return True


class Cluster:
    """Nodes with synchronous, in-order delivery; cut links and a drop filter for faults."""

    def __init__(
        self,
        ids: Iterable[str],
        options: NodeOptions | None = None,
        seed: int = 0,
        hooks: Hooks | None = None,
    ) -> None:
        self.options = options or NodeOptions()
        self.hooks = hooks or Hooks()
        ids = list(ids)
        self.nodes: dict[str, SimNode] = {}
        for i, node_id in enumerate(ids):
            self.add_node(node_id, MemoryStorage.bootstrap(ids), seed * 100 + i)
        self.cut_links: set[tuple[str, str]] = set()
        self.drop: Callable[[Message], bool] | None = None
        self.outbox: list[Message] = []
        self.delivered: list[Message] = []
        self.settle()

    def add_node(self, node_id: str, storage: MemoryStorage | None = None, seed: int = 0) -> SimNode:
        node = SimNode(node_id, storage or MemoryStorage(), self.options, seed, self.hooks)
        self.nodes[node_id] = node
        return node

    def __getitem__(self, node_id: str) -> RaftCore:
        return self.nodes[node_id].raft

    # -- faults -----------------------------------------------------------------------------

    def cut(self, a: str, b: str) -> None:
        self.cut_links |= {(a, b), (b, a)}

    def isolate(self, node_id: str) -> None:
        for other in self.nodes:
            if other != node_id:
                self.cut(node_id, other)

    def heal(self) -> None:
        self.cut_links.clear()
        self.drop = None

    def only_links(self, *pairs: tuple[str, str]) -> None:
        """Cut every link except these (both directions)."""
        self.cut_links = {(a, b) for a in self.nodes for b in self.nodes if a != b}
        for a, b in pairs:
            self.cut_links -= {(a, b), (b, a)}

    def crash(self, node_id: str) -> None:
        self.nodes[node_id].crash()

    def restart(self, node_id: str) -> None:
        self.nodes[node_id].start()
        self.process(node_id)

    # -- running ----------------------------------------------------------------------------

    def _send(self, m: Message) -> None:
        self.outbox.append(m)

    def process(self, node_id: str) -> None:
        node = self.nodes[node_id]
        if node.alive:
            node.process(self._send)

    def deliver(self, m: Message) -> None:
        node = self.nodes.get(m.to_id)
        if node is None or not node.alive or (m.from_id, m.to_id) in self.cut_links:
            return
        if self.drop is not None and self.drop(m):
            return
        self.delivered.append(m)
        node.raft.step(m)
        node.process(self._send)

    def settle(self, max_rounds: int = 10_000) -> None:
        """Process and deliver until no node has anything to do (no ticks)."""
        for _ in range(max_rounds):
            for node_id in list(self.nodes):
                self.process(node_id)
            if not self.outbox:
                return
            batch, self.outbox = self.outbox, []
            for m in batch:
                self.deliver(m)
        raise AssertionError("cluster did not settle")

    def tick(self, node_id: str, n: int = 1) -> None:
        for _ in range(n):
            if self.nodes[node_id].alive:
                self[node_id].tick()
                self.settle()

    def tick_all(self, n: int = 1) -> None:
        for _ in range(n):
            for node_id, node in self.nodes.items():
                if node.alive:
                    node.raft.tick()
                    self.process(node_id)
            self.settle()

    def campaign(self, node_id: str) -> None:
        """Time node_id out (others keep quiet) and settle."""
        core = self[node_id]
        for _ in range(4 * self.options.election_tick):
            if core.role != Role.FOLLOWER:
                break
            core.tick()
            self.process(node_id)
        self.settle()

    def elect(self, node_id: str) -> None:
        """Tick only node_id (settling after each tick) until it leads."""
        for _ in range(10 * self.options.election_tick):
            if self[node_id].role == Role.LEADER:
                return
            self[node_id].tick()
            self.settle()
        raise AssertionError(f"{self[node_id]} did not win an election")

    def leader(self) -> str | None:
        leaders = [n for n, node in self.nodes.items() if node.alive and node.raft.role == Role.LEADER]
        if not leaders:
            return None
        return max(leaders, key=lambda n: self[n].term)

    def propose(self, node_id: str, data: bytes) -> int:
        index = self[node_id].propose(data)
        self.settle()
        return index

    def change(self, node_id: str, kind: ConfChangeType, target: str) -> int:
        index = self[node_id].propose_conf_change(ConfChange(kind, target))
        self.settle()
        return index

    def applied(self, node_id: str) -> list[bytes]:
        return self.nodes[node_id].sm.data()
