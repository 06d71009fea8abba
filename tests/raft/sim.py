"""Deterministic simulation of a Raft cluster under faults, with Raft's safety properties checked.

One seed fixes everything: the network's cuts, partitions, drops, delays (hence reordering) and
duplicates, crashes (also half-way through handling a Ready, before or after the save), pauses
(SIGSTOP: no ticks, inbound messages held until it resumes), restarts from storage, membership
changes, snapshots and compaction, leadership transfers, client proposals and ReadIndex reads.
No wall clock, no threads; string hashing never affects the order of anything. A failure raises
SimulationFailure naming the seed and the recent events.

Checked while running (every Ready / apply, and after every step):
- election safety: at most one leader per term;
- log matching: an (index, term) pair always names the same entry with the same predecessor
  term, in every log it ever appears in (inductively: identical prefixes);
- leader completeness: a new leader's log holds the newest entry known to have been committed
  in an earlier term;
- state machine safety: every index is applied with the same entry everywhere, and the state
  after it (a hash chain, also what snapshots carry) is the same everywhere;
- ReadIndex: a released read's index covers everything committed before the read was asked;
- acknowledgements: a proposal is acked when the node that accepted it applies its data at the
  index it was given; an index is never acked with two different data.
At the end the network heals, every member that is down restarts, the cluster must settle, and
every acknowledged proposal must be applied, in the same order, on every member.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from alcor.raft import (
    ConfChange,
    ConfChangeType,
    Entry,
    EntryType,
    MemoryStorage,
    Message,
    MessageType,
    NotLeader,
    ProposalDropped,
    Ready,
    Role,
    Snapshot,
)
from alcor.raft.errors import Compacted
from alcor.raft.wire import decode_conf_change

from .harness import Hooks, NodeOptions, SimNode

T = TypeVar("T")


class SimulationFailure(AssertionError):
    pass


@dataclass
class SimParams:
    """What a run does. Fields left None are drawn from the seed, so seeds differ in character
    (calm or stormy, one entry per message or many, small or large inflight windows)."""

    nodes: int = 3
    steps: int = 1000
    election_tick: int = 10
    max_inflight_msgs: int | None = None
    max_size_per_msg: int | None = None
    p_client: float = 0.35  # per step: a client proposes or reads
    p_nemesis: float | None = None  # per step: one fault or operation
    p_crash_in_ready: float | None = None  # per Ready handled: crash before or after the save
    compact_every: int | None = None  # applied entries between automatic snapshots
    membership: bool = True
    settle_steps: int = 3000

    def resolve(self, rng: random.Random) -> SimParams:
        def pick(value: T | None, choices: list[T]) -> T:
            return rng.choice(choices) if value is None else value

        return replace(
            self,
            max_inflight_msgs=pick(self.max_inflight_msgs, [1, 2, 4, 64]),
            max_size_per_msg=pick(self.max_size_per_msg, [1, 100, 400, 1 << 20]),
            p_nemesis=pick(self.p_nemesis, [0.02, 0.05, 0.1]),
            p_crash_in_ready=pick(self.p_crash_in_ready, [0.0, 0.002, 0.01]),
            compact_every=pick(self.compact_every, [8, 20, 50, 10**9]),
        )


class Network:
    """In-flight messages with per-message delay; cut links, drops and duplicates."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.now = 0
        self._seq = 0
        self._queue: list[tuple[int, int, Message]] = []
        self.blocked: set[tuple[str, str]] = set()
        self.drop_rate = 0.0
        self.dup_rate = 0.0
        self.max_delay = 2
        # Snapshot sends a real transport would report failed (report_snapshot(ok=False)).
        self.failed_snapshots: list[Message] = []

    def send(self, m: Message) -> None:
        if (m.from_id, m.to_id) in self.blocked or (self.drop_rate and self.rng.random() < self.drop_rate):
            self.dropped(m)
            return
        self._push(m)
        if self.dup_rate and self.rng.random() < self.dup_rate:
            self._push(m)

    def _push(self, m: Message) -> None:
        self.defer(m, self.now + (self.rng.randint(0, self.max_delay) if self.max_delay else 0))

    def defer(self, m: Message, at: int) -> None:
        heapq.heappush(self._queue, (at, self._seq, m))
        self._seq += 1

    def dropped(self, m: Message) -> None:
        if m.type == MessageType.SNAPSHOT:
            self.failed_snapshots.append(m)

    def due(self) -> list[Message]:
        out = []
        while self._queue and self._queue[0][0] <= self.now:
            out.append(heapq.heappop(self._queue)[2])
        return out

    def heal(self) -> None:
        self.blocked.clear()
        self.drop_rate = self.dup_rate = 0.0
        self.max_delay = 1


class Checker(Hooks):
    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.leaders: dict[int, str] = {}
        self.entries: dict[tuple[int, int], tuple[int, bytes, int]] = {}
        self.committed_term: dict[int, int] = {}  # index -> term of the committed entry
        # index -> a term in which it was already committed: the smallest term of any node that
        # reported it committed (never below the term of the leader that committed it).
        self.committed_by: dict[int, int] = {}
        self.max_committed = 0
        self.applied: dict[int, Entry] = {}
        self.digest_at: dict[int, bytes] = {}

    def fail(self, msg: str) -> None:
        self.sim.fail(msg)

    def note_leader(self, node: str, term: int) -> None:
        other = self.leaders.setdefault(term, node)
        if other != node:
            self.fail(f"election safety: {other} and {node} both lead term {term}")

    def note_committed(self, index: int, term: int, observer_term: int) -> None:
        known = self.committed_term.setdefault(index, term)
        if known != term:
            self.fail(f"index {index} committed with term {known} and with term {term}")
        self.committed_by[index] = min(self.committed_by.get(index, observer_term), observer_term)
        self.max_committed = max(self.max_committed, index)

    def on_ready(self, node: SimNode, rd: Ready) -> None:
        core = node.raft
        if rd.soft_state is not None and rd.soft_state.role == Role.LEADER:
            self.note_leader(node.id, core.term)
            self.check_leader_completeness(node)
        if rd.snapshot is not None:
            self.note_committed(rd.snapshot.metadata.index, rd.snapshot.metadata.term, core.term)
        prev_term = core.log.term(rd.entries[0].index - 1) if rd.entries else 0
        for e in rd.entries:
            seen = self.entries.setdefault((e.index, e.term), (e.type, e.data, prev_term))
            if seen != (e.type, e.data, prev_term):
                self.fail(f"log matching: {node.id} has ({e.index}, {e.term}) = {e.data!r}/prev {prev_term}, seen {seen}")
            prev_term = e.term
        for e in rd.committed_entries:
            self.note_committed(e.index, e.term, core.term)
        for rs in rd.read_states:
            floor = self.sim.reads.pop(rs.context, None)
            if floor is not None and rs.index < floor:
                self.fail(f"stale read on {node.id}: index {rs.index} < {floor} committed before it was asked")

    def check_leader_completeness(self, node: SimNode) -> None:
        # Entries committed in earlier terms must be in the new leader's log. (Not everything
        # known committed: a candidate of an old term can still win late, when replies to its
        # vote requests were delayed, after later terms committed more.)
        term = node.raft.term
        older = [i for i, t in self.committed_by.items() if t < term]
        if not older:
            return
        index = max(older)
        try:
            ours = node.raft.log.term(index)
        except Compacted:
            return  # below its snapshot, which only holds committed entries
        if ours != self.committed_term[index]:
            self.fail(f"leader completeness: new leader {node.id} (term {term}) lacks committed entry {index}")

    def on_apply(self, node: SimNode, e: Entry) -> None:
        first = self.applied.setdefault(e.index, e)
        if first != e:
            self.fail(f"state machine safety: {node.id} applied {e} at {e.index}, another node {first}")
        digest = self.digest_at.setdefault(e.index, node.sm.digest)
        if digest != node.sm.digest:
            self.fail(f"state machine safety: {node.id}'s state after {e.index} differs")
        self.sim.on_apply(node, e)

    def on_snapshot(self, node: SimNode, snap: Snapshot) -> None:
        index = snap.metadata.index
        digest = self.digest_at.setdefault(index, node.sm.digest)
        if digest != node.sm.digest:
            self.fail(f"snapshot {index} installed on {node.id} differs from the applied state")
        self.sim.on_snapshot(node, snap)

    def check_step(self) -> None:
        for node in self.sim.nodes.values():
            if node.alive and node.raft.role == Role.LEADER:
                self.note_leader(node.id, node.raft.term)


class Simulation:
    def __init__(self, seed: int, params: SimParams | None = None) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.p = (params or SimParams()).resolve(self.rng)
        self.net = Network(random.Random(seed * 7919 + 1))
        self.trace: deque[str] = deque(maxlen=60)
        self.checker = Checker(self)
        assert self.p.max_inflight_msgs is not None and self.p.max_size_per_msg is not None
        self.options = NodeOptions(
            election_tick=self.p.election_tick,
            max_inflight_msgs=self.p.max_inflight_msgs,
            max_size_per_msg=self.p.max_size_per_msg,
        )
        ids = [f"n{i}" for i in range(1, self.p.nodes + 1)]
        self.nodes: dict[str, SimNode] = {}
        for node_id in ids:
            self._add_node(node_id, MemoryStorage.bootstrap(ids))
        self.next_node = self.p.nodes + 1
        self.stopped: set[str] = set()  # removed from the cluster and shut down for good
        self.to_stop: list[str] = []
        self.pending: dict[tuple[str, int, int], bytes] = {}  # (node, incarnation, index) -> data
        self.acked: dict[int, bytes] = {}
        self.reads: dict[bytes, int] = {}  # outstanding read context -> commit floor
        self.proposed = 0
        self.step_no = 0
        self.stats: Counter[str] = Counter()
        self.paused: dict[str, int] = {}  # node -> step it resumes at (SIGSTOP)
        for node_id in ids:
            self._process(self.nodes[node_id])

    def _add_node(self, node_id: str, storage: MemoryStorage) -> SimNode:
        node = SimNode(node_id, storage, self.options, self.seed * 1009 + len(self.nodes), self.checker)
        self.nodes[node_id] = node
        return node

    def fail(self, msg: str) -> None:
        trace = "\n  ".join(self.trace)
        raise SimulationFailure(f"seed {self.seed} step {self.step_no}: {msg}\nrecent events:\n  {trace}")

    def log(self, event: str, kind: str) -> None:
        self.trace.append(f"[{self.step_no}] {event}")
        self.stats[kind] += 1

    # -- the client's view ------------------------------------------------------------------

    def on_apply(self, node: SimNode, e: Entry) -> None:
        if e.type == EntryType.CONF_CHANGE:
            cc = decode_conf_change(e.data)
            if cc.type == ConfChangeType.REMOVE and cc.node_id not in self.stopped:
                self.to_stop.append(cc.node_id)  # committed: the operator shuts it down
        data = self.pending.pop((node.id, node.incarnation, e.index), None)
        if data is not None and e.data == data and self.acked.setdefault(e.index, data) != data:
            self.fail(f"index {e.index} acknowledged with two different proposals")

    def on_snapshot(self, node: SimNode, snap: Snapshot) -> None:
        self.stats["snapshot installed"] += 1
        # Proposals covered by a snapshot: their fate is unknown to this node's clients.
        for key in [k for k in self.pending if k[0] == node.id and k[2] <= snap.metadata.index]:
            del self.pending[key]

    def _stop_removed(self) -> None:
        for node_id in self.to_stop:
            if node_id not in self.stopped:
                self.stopped.add(node_id)
                self.nodes[node_id].crash()
                self.log(f"{node_id} removed and stopped", "removed")
        self.to_stop = []

    # -- driving ----------------------------------------------------------------------------

    def _process(self, node: SimNode) -> None:
        crash_at = None
        if self.p.p_crash_in_ready and node.core is not None and node.core.has_ready() and (
            self.rng.random() < self.p.p_crash_in_ready
        ):
            crash_at = self.rng.choice(["before_save", "after_save"])
        was_alive = node.alive
        node.process(self.net.send, crash_at)
        if was_alive and not node.alive and node.id not in self.stopped:
            self.log(f"{node.id} crashed {crash_at}", "crash in ready")

    def _deliver(self, m: Message) -> None:
        node = self.nodes.get(m.to_id)
        if node is None or not node.alive or (m.from_id, m.to_id) in self.net.blocked:
            self.net.dropped(m)
            return
        if m.to_id in self.paused:
            self.net.defer(m, self.paused[m.to_id])  # kernel buffers hold it until SIGCONT
            return
        node.raft.step(m)
        self._process(node)
        if m.type == MessageType.SNAPSHOT:
            self._report_snapshot(m, True)

    def _report_snapshot(self, m: Message, ok: bool) -> None:
        sender = self.nodes.get(m.from_id)
        if sender is not None and sender.alive:
            sender.raft.report_snapshot(m.to_id, ok)
            self._process(sender)

    def step(self) -> None:
        self.step_no += 1
        self.net.now += 1
        for node_id, until in list(self.paused.items()):
            if until <= self.step_no:
                del self.paused[node_id]
                self.log(f"resume {node_id}", "resume")
        for node in self.nodes.values():
            if node.alive and node.id not in self.paused and self.rng.random() < 0.95:  # clocks drift
                node.raft.tick()
                self._process(node)
        for m in self.net.due():
            self._deliver(m)
        failed, self.net.failed_snapshots = self.net.failed_snapshots, []
        for m in failed:
            self._report_snapshot(m, False)
        self._stop_removed()
        self._auto_compact()
        if self.rng.random() < self.p.p_client:
            self._client()
        if self.rng.random() < (self.p.p_nemesis or 0.0):
            self._nemesis()
        self.checker.check_step()

    def alive(self) -> list[SimNode]:
        return [n for n in self.nodes.values() if n.alive]

    def leader(self) -> SimNode | None:
        leaders = [n for n in self.alive() if n.raft.role == Role.LEADER]
        return max(leaders, key=lambda n: n.raft.term) if leaders else None

    def _client(self) -> None:
        alive = self.alive()
        if not alive:
            return
        node = self.rng.choice(alive)
        if self.rng.random() < 0.15:
            ctx = f"read-{self.seed}-{self.step_no}-{node.id}".encode()
            try:
                node.raft.read_index(ctx)
            except NotLeader:
                return
            self.reads[ctx] = self.checker.max_committed
            self._process(node)
            return
        for _ in range(self.rng.choice([1, 1, 1, 3, 8])):
            self.proposed += 1
            data = f"{self.seed}:{self.proposed}".encode()
            try:
                index = node.raft.propose(data)
            except (NotLeader, ProposalDropped):
                return
            self.pending[(node.id, node.incarnation, index)] = data
        self._process(node)

    def _nemesis(self) -> None:
        actions = [
            self._cut, self._cut, self._isolate, self._partition, self._heal, self._heal,
            self._crash, self._restart, self._restart, self._weather, self._compact, self._compact,
            self._transfer, self._pause, self._crash_leader, self._isolate_leader,
        ]
        if self.p.membership:
            actions += [self._membership, self._membership]
        self.rng.choice(actions)()

    def members(self) -> list[str]:
        return [n for n in self.nodes if n not in self.stopped]

    def _cut(self) -> None:
        a, b = self.rng.sample(self.members(), 2) if len(self.members()) > 1 else (None, None)
        if a is None or b is None:
            return
        self.net.blocked.add((a, b))
        if self.rng.random() < 0.7:
            self.net.blocked.add((b, a))
        self.log(f"cut {a}-{b}", "cut")

    def _isolate(self) -> None:
        a = self.rng.choice(self.members())
        for b in self.nodes:
            if b != a:
                self.net.blocked |= {(a, b), (b, a)}
        self.log(f"isolate {a}", "isolate")

    def _partition(self) -> None:
        ids = self.members()
        self.rng.shuffle(ids)
        cut = self.rng.randint(1, max(1, len(ids) - 1))
        left, right = ids[:cut], ids[cut:]
        for a in left:
            for b in right:
                self.net.blocked |= {(a, b), (b, a)}
        self.log(f"partition {sorted(left)} | {sorted(right)}", "partition")

    def _heal(self) -> None:
        self.net.blocked.clear()
        self.log("heal links", "heal")

    def _weather(self) -> None:
        self.net.drop_rate = self.rng.choice([0.0, 0.0, 0.05, 0.2])
        self.net.dup_rate = self.rng.choice([0.0, 0.05, 0.2])
        self.net.max_delay = self.rng.choice([0, 1, 2, 4, 8])
        self.log(f"weather drop={self.net.drop_rate} dup={self.net.dup_rate} delay<={self.net.max_delay}", "weather")

    def _crash(self) -> None:
        alive = [n for n in self.alive() if n.id not in self.stopped]
        if alive:
            node = self.rng.choice(alive)
            node.crash()
            self.log(f"crash {node.id}", "crash")

    def _crash_leader(self) -> None:
        leader = self.leader()
        if leader is not None:
            leader.crash()
            self.log(f"crash leader {leader.id}", "crash")

    def _isolate_leader(self) -> None:
        leader = self.leader()
        if leader is not None:
            for b in self.nodes:
                if b != leader.id:
                    self.net.blocked |= {(leader.id, b), (b, leader.id)}
            self.log(f"isolate leader {leader.id}", "isolate")

    def _pause(self) -> None:
        candidates = [n.id for n in self.alive() if n.id not in self.paused]
        if candidates:
            leader = self.leader()
            node_id = leader.id if leader is not None and self.rng.random() < 0.5 else self.rng.choice(candidates)
            self.paused[node_id] = self.step_no + self.rng.randint(5, 4 * self.p.election_tick)
            self.log(f"pause {node_id} until {self.paused[node_id]}", "pause")

    def _restart(self) -> None:
        down = [n for n in self.nodes.values() if not n.alive and n.id not in self.stopped]
        if down:
            node = self.rng.choice(down)
            node.start()
            self.log(f"restart {node.id} ({node.raft})", "restart")
            self._process(node)

    def _compact(self) -> None:
        alive = self.alive()
        if alive:
            node = self.rng.choice(alive)
            if node.snapshot_and_compact(keep=self.rng.choice([0, 0, 2, 10])):
                self.log(f"snapshot+compact {node.id} at {node.sm.applied}", "compact")

    def _auto_compact(self) -> None:
        # As a controller would: snapshot every so many applied entries, keeping a short tail.
        for node in self.alive():
            if node.sm.applied - node.storage.snapshot().metadata.index >= (self.p.compact_every or 0):
                node.snapshot_and_compact(keep=self.rng.choice([0, 5]))
                self.stats["auto compact"] += 1

    def _transfer(self) -> None:
        leader = self.leader()
        if leader is None:
            return
        voters = [v for v in leader.raft.conf_state.voters if v != leader.id]
        if voters:
            target = self.rng.choice(voters)
            leader.raft.transfer_leader(target)
            self.log(f"transfer {leader.id} -> {target}", "transfer")
            self._process(leader)

    def _membership(self) -> None:
        leader = self.leader()
        if leader is None:
            return
        cs = leader.raft.conf_state
        options: list[tuple[ConfChangeType, str]] = []
        if len(cs.voters) + len(cs.learners) < 6:
            new_id = f"n{self.next_node}"
            options += [(ConfChangeType.ADD_LEARNER, new_id), (ConfChangeType.ADD_VOTER, new_id)]
        options += [(ConfChangeType.PROMOTE, learner) for learner in cs.learners]
        if len(cs.voters) > 3:
            options += [(ConfChangeType.REMOVE, v) for v in cs.voters]
        options += [(ConfChangeType.REMOVE, learner) for learner in cs.learners]
        kind, target = self.rng.choice(options)
        try:
            index = leader.raft.propose_conf_change(ConfChange(kind, target))
        except ProposalDropped:
            return
        self.log(f"{leader.id} proposes {kind.name} {target} at {index}", "conf change")
        if target not in self.nodes:
            self.next_node += 1
            self._add_node(target, MemoryStorage())  # the operator starts it empty, then adds it
        self._process(leader)

    # -- scripting (scenario tests drive the same machinery by hand) -------------------------

    def propose_on(self, node_id: str, data: bytes) -> int:
        node = self.nodes[node_id]
        index = node.raft.propose(data)
        self.pending[(node_id, node.incarnation, index)] = data
        self._process(node)
        return index

    def isolate(self, node_id: str) -> None:
        for other in self.nodes:
            if other != node_id:
                self.net.blocked |= {(node_id, other), (other, node_id)}
        self.log(f"isolate {node_id}", "isolate")

    def run_until(self, done: Callable[[], bool], max_steps: int = 2000) -> None:
        for _ in range(max_steps):
            if done():
                return
            self.step()
        self.fail("scripted condition not reached")

    # -- the run ----------------------------------------------------------------------------

    def run(self) -> Simulation:
        for _ in range(self.p.steps):
            self.step()
        self.settle()
        self.final_check()
        return self

    def heal_all(self) -> None:
        self.net.heal()
        self.paused.clear()
        for node in self.nodes.values():
            if not node.alive and node.id not in self.stopped:
                node.start()
                self._process(node)
        self.log("heal everything, restart every member", "final heal")

    def settled(self) -> bool:
        leader = self.leader()
        if leader is None or leader.raft.committed != leader.raft.log.last_index():
            return False
        last = leader.raft.log.last_index()
        cs = leader.raft.conf_state
        return all(
            self.nodes[m].alive and self.nodes[m].sm.applied == last for m in cs.voters + cs.learners
        )

    def settle(self) -> None:
        self.p.p_crash_in_ready = 0.0
        self.heal_all()
        for _ in range(self.p.settle_steps):
            self.step_no += 1
            self.net.now += 1
            for node in self.alive():
                node.raft.tick()
                self._process(node)
            for m in self.net.due():
                self._deliver(m)
            failed, self.net.failed_snapshots = self.net.failed_snapshots, []
            for m in failed:
                self._report_snapshot(m, False)
            self._stop_removed()
            self.checker.check_step()
            if self.settled():
                return
        states = "; ".join(repr(n.core) for n in self.nodes.values())
        self.fail(f"the healed cluster did not settle: {states}")

    def final_check(self) -> None:
        leader = self.leader()
        assert leader is not None
        cs = leader.raft.conf_state
        members = [self.nodes[m] for m in cs.voters + cs.learners]
        digests = {m.id: m.sm.digest for m in members}
        if len(set(digests.values())) != 1:
            self.fail(f"members ended in different states: {digests}")
        for index, data in self.acked.items():
            entry = self.checker.applied.get(index)
            if entry is None or entry.data != data:
                self.fail(f"acknowledged proposal {data!r} at {index} is not applied (found {entry})")
            for m in members:
                if m.sm.applied < index:
                    self.fail(f"{m.id} has not applied acknowledged index {index}")
