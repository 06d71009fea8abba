"""The Raft node state machine: pure and deterministic (no I/O, no clock, seeded randomness).

Inputs are method calls: `tick()` (the driver's clock), `step(message)` (from a peer),
`propose`, `propose_conf_change`, `read_index`, `transfer_leader`, `report_unreachable` and
`report_snapshot`. All output comes out of `ready()` as one `Ready` batch. A driver runs:

    while core.has_ready():
        rd = core.ready()
        send(rd.messages)                  # at once: they need nothing from this batch on disk
        storage.save(rd.hard_state, rd.entries, rd.snapshot)   # fsync if rd.must_sync
        send(rd.persisted_messages)        # only now: they acknowledge what was just saved
        install rd.snapshot (if any) into the state machine, then
        apply rd.committed_entries in order (they may include entries of this very batch,
                                             hence saving first)
        queue rd.read_states: serve each once the applied index >= its index
        core.advance(rd)

The core refuses any call between ready() and advance(): whatever arrives meanwhile waits and
is stepped in one go afterwards, which is how many proposals come to share one fsync. Entries
proposed between two Readies also leave in one AppendEntries per follower (sent at ready()).

Durability rules this shape enforces (etcd's, and Ongaro's thesis 10.2.1):
- A node's own vote and its own copy of new entries only count once durable: the core records
  them in advance(), never before. A leader may send entries before writing them itself, but
  cannot commit on the strength of its own unsaved copy, and a candidate cannot win on an
  unsaved vote for itself.
- Every reply a voter or follower makes (APPEND_RESP, VOTE_RESP, PREVOTE_RESP,
  HEARTBEAT_RESP) is in `persisted_messages`.

Design decisions:
- Membership changes take effect when applied: advance() applies every CONF_CHANGE among the
  committed entries it hands out. One change at a time: the leader refuses a new change while
  the previous one is not applied, and a new leader treats its whole log as possibly holding one
  (so it must first commit and apply an entry of its own term, which also closes the known
  single-server-change bug across leader changes).
- ReadIndex: the leader answers only once it has committed an entry in its term (earlier
  requests wait), records the commit index, and releases the read after a quorum acknowledges a
  heartbeat round that started after the request. Heartbeats for reads are sent once per Ready,
  so concurrent reads share one round. Role or term changes drop pending reads: a deposed leader
  never releases one (the driver times such a read out).
"""

from __future__ import annotations

import random
from enum import IntEnum

from .config import Config
from .errors import Compacted, NotLeader, ProposalDropped, SnapshotTemporarilyUnavailable
from .log import RaftLog
from .progress import Progress, ProgressState, Tracker
from .readonly import ReadOnly
from .storage import Storage
from .types import (
    NONE,
    TRANSFER_CONTEXT,
    ConfChange,
    ConfChangeType,
    ConfState,
    Entry,
    EntryType,
    HardState,
    Message,
    MessageType,
    ReadState,
    Ready,
    Role,
    SoftState,
)
from .wire import decode_conf_change, encode_conf_change

MT = MessageType

# Replies that acknowledge state (a vote, entries, a term): sent only after the Ready is durable.
_AFTER_PERSIST = frozenset({MT.APPEND_RESP, MT.VOTE_RESP, MT.PREVOTE_RESP, MT.HEARTBEAT_RESP})
_FROM_LEADER = frozenset({MT.APPEND, MT.HEARTBEAT, MT.SNAPSHOT})


class Campaign(IntEnum):
    PRE_ELECTION = 0
    ELECTION = 1
    TRANSFER = 2  # started by TIMEOUT_NOW: no PreVote, and voters skip their leader lease


class RaftCore:
    def __init__(self, config: Config, storage: Storage, rng: random.Random) -> None:
        config.validate()
        self.id = config.id
        self._cfg = config
        self._rng = rng
        self.log = RaftLog(storage)
        hs, cs = storage.initial_state()
        self.tracker = Tracker(config.max_inflight_msgs, config.max_inflight_bytes)
        self.tracker.restore(cs, self.log.last_index() + 1)
        self.term = hs.term
        self.vote = hs.vote
        self.log.commit_to(hs.commit)
        self.role = Role.FOLLOWER
        self.lead = NONE
        self.lead_transferee = NONE
        # Index of the newest membership change this leader may have in its log.
        self.pending_conf_index = 0
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self.randomized_election_timeout = config.election_tick
        self._msgs: list[Message] = []
        self._msgs_after_persist: list[Message] = []
        self._read_states: list[ReadState] = []
        self._read_only = ReadOnly()
        self._reads_waiting_commit: list[tuple[bytes, str]] = []
        self._read_heartbeat = False  # a ReadIndex round to start at the next ready()
        self._bcast = False  # new entries or a new commit index to broadcast at ready()
        self._self_vote_term = 0  # our vote for ourselves, to count once durable
        self._outstanding: Ready | None = None
        self._ready_self_vote_term = 0
        self._prev_soft = SoftState(NONE, Role.FOLLOWER)
        self._prev_hard = hs
        self._become_follower(self.term, NONE)

    # -- inspection -------------------------------------------------------------------------

    @property
    def conf_state(self) -> ConfState:
        return self.tracker.conf_state()

    @property
    def committed(self) -> int:
        return self.log.committed

    @property
    def applied(self) -> int:
        return self.log.applied

    def progress(self, node: str) -> Progress | None:
        return self.tracker.progress.get(node) if self.role == Role.LEADER else None

    def __repr__(self) -> str:
        return (
            f"RaftCore({self.id} {self.role.name} term={self.term} lead={self.lead or '-'} "
            f"commit={self.log.committed} applied={self.log.applied} last={self.log.last_index()})"
        )

    # -- inputs -----------------------------------------------------------------------------

    def tick(self) -> None:
        self._check_idle()
        if self.role == Role.LEADER:
            self._tick_leader()
        else:
            self._tick_election()

    def step(self, m: Message) -> None:
        self._check_idle()
        if m.term > self.term:
            if m.type in (MT.VOTE, MT.PREVOTE) and m.context != TRANSFER_CONTEXT and self._in_lease():
                return  # we heard from a live leader recently: do not let this node disrupt it
            if m.type == MT.PREVOTE or (m.type == MT.PREVOTE_RESP and not m.reject):
                pass  # about a future term that may never happen: no state change
            elif m.type in _FROM_LEADER:
                self._become_follower(m.term, m.from_id)
            else:
                self._become_follower(m.term, NONE)
        elif m.term < self.term:
            if m.type in (MT.APPEND, MT.HEARTBEAT) and (self._cfg.check_quorum or self._cfg.pre_vote):
                # A stale leader, or our own term grew in a partition: with these options votes
                # no longer raise terms, so tell the sender ours (it steps down or catches up).
                self._send(Message(MT.APPEND_RESP, m.from_id, self.id, term=self.term))
            elif m.type == MT.PREVOTE:
                self._send(Message(MT.PREVOTE_RESP, m.from_id, self.id, term=self.term, reject=True))
            return
        if m.type in (MT.VOTE, MT.PREVOTE):
            self._handle_vote_request(m)
        elif self.role == Role.LEADER:
            self._step_leader(m)
        elif self.role == Role.FOLLOWER:
            self._step_follower(m)
        else:
            self._step_candidate(m)

    def propose(self, data: bytes) -> int:
        """Append data to the leader's log; returns its index (watch for it to be applied)."""
        self._check_idle()
        self._check_can_propose()
        return self._append(EntryType.NORMAL, data)

    def propose_conf_change(self, cc: ConfChange) -> int:
        self._check_idle()
        self._check_can_propose()
        if self.pending_conf_index > self.log.applied:
            raise ProposalDropped("a membership change is still pending (one at a time)")
        problem = self.tracker.validate(cc)
        if problem is not None:
            raise ValueError(problem)
        self.pending_conf_index = self._append(EntryType.CONF_CHANGE, encode_conf_change(cc))
        return self.pending_conf_index

    def read_index(self, context: bytes) -> None:
        """Request a linearizable read; a ReadState with this context comes out of a Ready."""
        self._check_idle()
        if not context:
            raise ValueError("a ReadIndex request needs a non-empty context")
        if self.role == Role.LEADER:
            self._leader_read_index(context, self.id)
        elif self.lead == NONE:
            raise NotLeader(NONE)
        else:
            self._send(Message(MT.READ_INDEX, self.lead, self.id, term=self.term, context=context))

    def transfer_leader(self, target: str) -> None:
        self._check_idle()
        if self.role != Role.LEADER:
            raise NotLeader(self.lead)
        if target == self.id or target == self.lead_transferee:
            return
        if target not in self.tracker.voters:
            raise ValueError(f"{target} is not a voter")
        self.lead_transferee = target
        self.election_elapsed = 0  # the transfer is abandoned after one election timeout
        if self.tracker.progress[target].match == self.log.last_index():
            self._send(Message(MT.TIMEOUT_NOW, target, self.id, term=self.term))
        else:
            self._maybe_send_append(target, True)

    def report_unreachable(self, node: str) -> None:
        """The transport failed to deliver to node: stop streaming to it and probe instead."""
        self._check_idle()
        pr = self.progress(node)
        if pr is not None and pr.state == ProgressState.REPLICATE:
            pr.become_probe()

    def report_snapshot(self, node: str, ok: bool) -> None:
        """The transport finished sending a snapshot to node (ok) or gave up (not ok)."""
        self._check_idle()
        pr = self.progress(node)
        if pr is None or pr.state != ProgressState.SNAPSHOT:
            return
        if not ok:
            pr.pending_snapshot = 0
        pr.become_probe()
        pr.probe_sent = True  # wait for the follower's answer or the next heartbeat

    # -- Ready / advance --------------------------------------------------------------------

    def has_ready(self) -> bool:
        if self._outstanding is not None:
            return False
        u, soft, hard = self.log.unstable, self._prev_soft, self._prev_hard
        return bool(
            self._msgs
            or self._msgs_after_persist
            or self._read_states
            or u.entries
            or u.snapshot is not None
            or self._self_vote_term
            or (self.role == Role.LEADER and (self._bcast or self._read_heartbeat))
            or self.log.has_committed_to_apply()
            or self.lead != soft.lead
            or self.role != soft.role
            or self.term != hard.term
            or self.vote != hard.vote
            or self.log.committed != hard.commit
        )

    def ready(self) -> Ready:
        self._check_idle()
        if self.role == Role.LEADER:
            if self._bcast:
                self._bcast_append()
            if self._read_heartbeat:
                self._bcast_heartbeat(self._read_only.last_pending_context())
        self._bcast = self._read_heartbeat = False
        log, prev = self.log, self._prev_hard
        soft = SoftState(self.lead, self.role)
        hard = HardState(self.term, self.vote, log.committed)
        rd = Ready(
            soft_state=None if soft == self._prev_soft else soft,
            hard_state=None if hard == prev else hard,
            snapshot=log.unstable.snapshot,
            entries=list(log.unstable.entries),
            messages=self._msgs,
            persisted_messages=self._msgs_after_persist,
            committed_entries=log.committed_to_apply(self._cfg.max_committed_size_per_ready),
            read_states=self._read_states,
        )
        rd.must_sync = bool(rd.entries) or rd.snapshot is not None or hard.term != prev.term or hard.vote != prev.vote
        self._msgs, self._msgs_after_persist, self._read_states = [], [], []
        self._ready_self_vote_term, self._self_vote_term = self._self_vote_term, 0
        self._outstanding = rd
        return rd

    def advance(self, rd: Ready) -> None:
        """The driver has persisted, sent and applied everything in rd."""
        if rd is not self._outstanding:
            raise RuntimeError("advance() takes the Ready that ready() returned last")
        self._outstanding = None
        log = self.log
        if rd.soft_state is not None:
            self._prev_soft = rd.soft_state
        if rd.hard_state is not None:
            self._prev_hard = rd.hard_state
        if rd.snapshot is not None:
            log.stable_snapshot_to(rd.snapshot.metadata.index)
            log.applied_to(rd.snapshot.metadata.index)
        if rd.entries:
            last = rd.entries[-1]
            log.stable_to(last.index, last.term)
        durable = log.stable_last_index()
        for e in rd.committed_entries:
            if e.type == EntryType.CONF_CHANGE:
                log.applied_to(e.index)
                self._apply_conf_change(decode_conf_change(e.data))
        if rd.committed_entries:
            log.applied_to(rd.committed_entries[-1].index)
        if self.role == Role.LEADER:
            pr = self.tracker.progress.get(self.id)
            if pr is not None and pr.maybe_update(durable) and self._maybe_commit():
                self._bcast = True
        vote_term, self._ready_self_vote_term = self._ready_self_vote_term, 0
        if vote_term and self.role == Role.CANDIDATE and self.term == vote_term:
            self._poll(self.id, True)

    # -- roles ------------------------------------------------------------------------------

    def _reset(self, term: int) -> None:
        if self.term != term:
            self.term = term
            self.vote = NONE
        self.lead = NONE
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self.randomized_election_timeout = self._cfg.election_tick + self._rng.randrange(self._cfg.election_tick)
        self.lead_transferee = NONE
        self.pending_conf_index = 0
        self.tracker.reset_votes()
        next_index = self.log.last_index() + 1
        for pr in self.tracker.progress.values():
            pr.reset(next_index)
        self._read_only = ReadOnly()
        self._reads_waiting_commit = []
        self._read_heartbeat = False
        self._bcast = False

    def _become_follower(self, term: int, lead: str) -> None:
        self._reset(term)
        self.role = Role.FOLLOWER
        self.lead = lead

    def _become_pre_candidate(self) -> None:
        # Changes neither term nor vote: a failed dry run leaves no trace for others to see.
        self.role = Role.PRE_CANDIDATE
        self.lead = NONE
        self.tracker.reset_votes()

    def _become_candidate(self) -> None:
        self._reset(self.term + 1)
        self.vote = self.id
        self.role = Role.CANDIDATE

    def _become_leader(self) -> None:
        self._reset(self.term)
        self.role = Role.LEADER
        self.lead = self.id
        pr = self.tracker.progress[self.id]
        pr.match = self.log.stable_last_index()
        pr.become_replicate()
        pr.recent_active = True
        # Entries after the commit index may hold a membership change from an earlier term.
        self.pending_conf_index = self.log.last_index()
        self._append(EntryType.NOOP, b"")

    def _promotable(self) -> bool:
        return self.id in self.tracker.voters and self.log.unstable.snapshot is None

    def _has_unapplied_conf_change(self) -> bool:
        log = self.log
        if log.committed <= log.applied:
            return False
        lo = max(log.applied + 1, log.first_index())
        return any(e.type == EntryType.CONF_CHANGE for e in log.slice(lo, log.committed + 1))

    def _in_lease(self) -> bool:
        return self._cfg.check_quorum and self.lead != NONE and self.election_elapsed < self._cfg.election_tick

    # -- ticks and elections ----------------------------------------------------------------

    def _tick_election(self) -> None:
        self.election_elapsed += 1
        if self.election_elapsed >= self.randomized_election_timeout and self._promotable():
            self.election_elapsed = 0
            self._campaign(Campaign.PRE_ELECTION if self._cfg.pre_vote else Campaign.ELECTION)

    def _tick_leader(self) -> None:
        self.heartbeat_elapsed += 1
        self.election_elapsed += 1
        if self.election_elapsed >= self._cfg.election_tick:
            self.election_elapsed = 0
            if self._cfg.check_quorum:
                if not self.tracker.quorum_active(self.id):
                    self._become_follower(self.term, NONE)
                    return
                self.tracker.reset_recent_active(self.id)
            self.lead_transferee = NONE
        if self.heartbeat_elapsed >= self._cfg.heartbeat_tick:
            self.heartbeat_elapsed = 0
            self._bcast_heartbeat(self._read_only.last_pending_context())

    def _campaign(self, kind: Campaign) -> None:
        if not self._promotable() or self._has_unapplied_conf_change():
            return  # our membership view may be stale until the pending change is applied
        if kind == Campaign.PRE_ELECTION:
            self._become_pre_candidate()
            vote_type, term = MT.PREVOTE, self.term + 1
            self._poll(self.id, True)  # a prevote changes nothing durable: count it now
            if self.role != Role.PRE_CANDIDATE:
                return  # decided already (a single voter goes straight to the election)
        else:
            self._become_candidate()
            vote_type, term = MT.VOTE, self.term
            self._self_vote_term = self.term
        context = TRANSFER_CONTEXT if kind == Campaign.TRANSFER else b""
        last, last_term = self.log.last_index(), self.log.last_term()
        for v in self.tracker.voters:
            if v != self.id:
                self._send(Message(vote_type, v, self.id, term=term, log_term=last_term, index=last, context=context))

    def _handle_vote_request(self, m: Message) -> None:
        resp = MT.VOTE_RESP if m.type == MT.VOTE else MT.PREVOTE_RESP
        can_vote = (
            self.vote == m.from_id
            or (self.vote == NONE and self.lead == NONE)
            or (m.type == MT.PREVOTE and m.term > self.term)
        )
        if can_vote and self.log.is_up_to_date(m.index, m.log_term):
            self._send(Message(resp, m.from_id, self.id, term=m.term))
            if m.type == MT.VOTE:
                self.election_elapsed = 0
                self.vote = m.from_id
        else:
            self._send(Message(resp, m.from_id, self.id, term=self.term, reject=True))

    def _poll(self, node: str, granted: bool) -> None:
        self.tracker.record_vote(node, granted)
        result = self.tracker.vote_result()
        if result is None:
            return
        if not result or self.id not in self.tracker.voters:  # lost, or removed meanwhile
            self._become_follower(self.term, NONE)
        elif self.role == Role.PRE_CANDIDATE:
            self._campaign(Campaign.ELECTION)
        else:
            self._become_leader()

    def _step_candidate(self, m: Message) -> None:
        if m.type in _FROM_LEADER:
            self._become_follower(m.term, m.from_id)  # someone won this term
            self._step_follower(m)
        elif m.type == MT.PREVOTE_RESP and self.role == Role.PRE_CANDIDATE:
            # Grants carry the term we asked about; a grant at our own term is from an old run.
            if m.term == (self.term if m.reject else self.term + 1):
                self._poll(m.from_id, not m.reject)
        elif m.type == MT.VOTE_RESP and self.role == Role.CANDIDATE:
            self._poll(m.from_id, not m.reject)

    # -- follower ---------------------------------------------------------------------------

    def _step_follower(self, m: Message) -> None:
        t = m.type
        if t in _FROM_LEADER:
            self.election_elapsed = 0
            self.lead = m.from_id
            if t == MT.APPEND:
                self._handle_append(m)
            elif t == MT.HEARTBEAT:
                self._handle_heartbeat(m)
            else:
                self._handle_snapshot(m)
        elif t == MT.TIMEOUT_NOW:
            self._campaign(Campaign.TRANSFER)
        elif t == MT.READ_INDEX_RESP:
            self._read_states.append(ReadState(m.index, m.context))

    def _reply(self, m: Message, index: int) -> None:
        self._send(Message(MT.APPEND_RESP, m.from_id, self.id, term=self.term, index=index))

    def _handle_append(self, m: Message) -> None:
        log = self.log
        if m.index < log.committed:
            self._reply(m, log.committed)  # a stale or duplicate append: our prefix matches anyway
            return
        last_new = log.maybe_append(m.index, m.log_term, m.commit, m.entries)
        if last_new is not None:
            self._reply(m, last_new)
            return
        hint = log.find_conflict_by_term(min(m.index, log.last_index()), m.log_term)
        self._send(
            Message(
                MT.APPEND_RESP, m.from_id, self.id, term=self.term, index=m.index,
                reject=True, reject_hint=hint, log_term=log.term(hint),
            )
        )

    def _handle_heartbeat(self, m: Message) -> None:
        # The leader sends min(our match, its commit): an index verified against its log.
        self.log.commit_to(m.commit)
        self._send(Message(MT.HEARTBEAT_RESP, m.from_id, self.id, term=self.term, context=m.context))

    def _handle_snapshot(self, m: Message) -> None:
        snap = m.snapshot
        if snap is None:
            return
        md, log = snap.metadata, self.log
        if md.index <= log.committed:
            self._reply(m, log.committed)
        elif log.match_term(md.index, md.term):
            # We already hold the snapshot's last entry: commit up to it and keep our log.
            # Never further: our entries after it are unverified (pysyncobj's bug B1).
            log.commit_to(md.index)
            self._reply(m, md.index)
        else:
            log.restore(snap)
            self.tracker.restore(md.conf_state, log.last_index() + 1)
            self._reply(m, md.index)

    # -- leader -----------------------------------------------------------------------------

    def _check_can_propose(self) -> None:
        if self.role != Role.LEADER:
            raise NotLeader(self.lead)
        if self.lead_transferee != NONE:
            raise ProposalDropped(f"leadership is being transferred to {self.lead_transferee}")

    def _append(self, entry_type: EntryType, data: bytes) -> int:
        index = self.log.last_index() + 1
        self.log.append([Entry(self.term, index, entry_type, data)])
        self._bcast = True
        return index

    def _step_leader(self, m: Message) -> None:
        if m.type == MT.READ_INDEX:
            self._leader_read_index(m.context, m.from_id)
            return
        pr = self.tracker.progress.get(m.from_id)
        if pr is None:
            return
        if m.type == MT.APPEND_RESP:
            self._handle_append_resp(m, pr)
        elif m.type == MT.HEARTBEAT_RESP:
            self._handle_heartbeat_resp(m, pr)

    def _handle_append_resp(self, m: Message, pr: Progress) -> None:
        pr.recent_active = True
        if m.reject:
            hint = m.reject_hint
            if m.log_term > 0:
                hint = self.log.find_conflict_by_term(hint, m.log_term)
            if pr.maybe_decr_to(m.index, hint):
                if pr.state == ProgressState.REPLICATE:
                    pr.become_probe()
                self._maybe_send_append(m.from_id, True)
            return
        was_paused = pr.is_paused()
        if not pr.maybe_update(m.index):
            return
        if pr.state == ProgressState.PROBE:
            pr.become_replicate()
        elif pr.state == ProgressState.SNAPSHOT:
            if pr.match >= pr.pending_snapshot or pr.match + 1 >= self.log.first_index():
                pr.become_replicate()
        else:
            pr.inflights.free_le(m.index)
        if self._maybe_commit():
            self._bcast = True
        elif was_paused:
            self._maybe_send_append(m.from_id, True)  # it may have missed the commit index
        while self._maybe_send_append(m.from_id, False):
            pass
        if m.from_id == self.lead_transferee and pr.match == self.log.last_index():
            self._send(Message(MT.TIMEOUT_NOW, m.from_id, self.id, term=self.term))

    def _handle_heartbeat_resp(self, m: Message, pr: Progress) -> None:
        pr.recent_active = True
        pr.probe_sent = False
        if pr.state == ProgressState.REPLICATE and pr.inflights.full():
            # Appends may have been lost: let one more through, whose rejection resets the stream.
            pr.inflights.free_first_one()
        if pr.match < self.log.last_index() or pr.state == ProgressState.PROBE:
            self._maybe_send_append(m.from_id, True)
        if m.context:
            acks = self._read_only.recv_ack(m.from_id, m.context)
            if acks is not None and self.tracker.has_quorum(acks):
                for req in self._read_only.advance(m.context):
                    self._release_read(req.index, req.context, req.from_id)

    def _maybe_send_append(self, to: str, send_if_empty: bool) -> bool:
        pr = self.tracker.progress[to]
        if pr.is_paused():
            return False
        log = self.log
        last = log.last_index()
        prev = pr.next - 1
        try:
            prev_term = log.term(prev)
            ents = log.slice(pr.next, last + 1, self._cfg.max_size_per_msg) if pr.next <= last else []
        except Compacted:
            return self._send_snapshot(to, pr)
        if not ents and not send_if_empty:
            return False
        self._send(
            Message(
                MT.APPEND, to, self.id, term=self.term, log_term=prev_term, index=prev,
                entries=ents, commit=log.committed,
            )
        )
        size = sum(e.size() for e in ents) if self._cfg.max_inflight_bytes else 0
        pr.sent_entries(prev + len(ents), len(ents), size)
        return True

    def _send_snapshot(self, to: str, pr: Progress) -> bool:
        if not pr.recent_active:
            return False  # do not ship a snapshot to a node that may be down
        try:
            snap = self.log.storage.snapshot()
        except SnapshotTemporarilyUnavailable:
            return False
        if snap.metadata.index == 0:
            raise AssertionError("entries are compacted but storage has no snapshot")
        self._send(Message(MT.SNAPSHOT, to, self.id, term=self.term, snapshot=snap))
        pr.become_snapshot(snap.metadata.index)
        return True

    def _bcast_append(self) -> None:
        for node in self.tracker.progress:
            if node != self.id and self._maybe_send_append(node, True):
                while self._maybe_send_append(node, False):
                    pass

    def _bcast_heartbeat(self, context: bytes) -> None:
        committed = self.log.committed
        for node, pr in self.tracker.progress.items():
            if node != self.id:
                commit = min(pr.match, committed)
                self._send(Message(MT.HEARTBEAT, node, self.id, term=self.term, commit=commit, context=context))

    def _maybe_commit(self) -> bool:
        if not self.log.maybe_commit(self.tracker.committed_index(), self.term):
            return False
        if self._reads_waiting_commit:
            waiting, self._reads_waiting_commit = self._reads_waiting_commit, []
            for context, from_id in waiting:
                self._leader_read_index(context, from_id)
        return True

    def _leader_read_index(self, context: bytes, from_id: str) -> None:
        log = self.log
        if log.term(log.committed) != self.term:
            # Until it commits in its term a new leader may not know the latest commit index.
            self._reads_waiting_commit.append((context, from_id))
        elif self.tracker.voters == (self.id,):
            self._release_read(log.committed, context, from_id)
        else:
            self._read_only.add(log.committed, context, from_id)
            self._read_only.recv_ack(self.id, context)
            self._read_heartbeat = True

    def _release_read(self, index: int, context: bytes, from_id: str) -> None:
        if from_id == self.id:
            self._read_states.append(ReadState(index, context))
        else:
            self._send(Message(MT.READ_INDEX_RESP, from_id, self.id, term=self.term, index=index, context=context))

    def _apply_conf_change(self, cc: ConfChange) -> None:
        departing = self.tracker.progress.get(cc.node_id) if cc.type == ConfChangeType.REMOVE else None
        if not self.tracker.apply(cc, self.log.last_index() + 1) or self.role != Role.LEADER:
            return
        if departing is not None and cc.node_id != self.id:
            # A last heartbeat carrying the commit index (up to what it holds) lets the removed
            # member apply its own removal and stop, instead of serving a state that no longer
            # moves; nothing else will be sent to it.
            commit = min(departing.match, self.log.committed)
            self._send(Message(MT.HEARTBEAT, cc.node_id, self.id, term=self.term, commit=commit))
        if self.id not in self.tracker.voters:
            # Removed: tell the others the commit index first, then stand down for good (a
            # non-voter never campaigns). They elect a new leader after an election timeout.
            self._bcast_append()
            self._become_follower(self.term, NONE)
            return
        if self.lead_transferee not in self.tracker.voters:
            self.lead_transferee = NONE
        self._maybe_commit()  # the quorum changed
        self._bcast = True  # reach new members (and spread any new commit index)

    # -- plumbing ---------------------------------------------------------------------------

    def _send(self, m: Message) -> None:
        if m.type in _AFTER_PERSIST:
            self._msgs_after_persist.append(m)
        else:
            self._msgs.append(m)

    def _check_idle(self) -> None:
        if self._outstanding is not None:
            raise RuntimeError("call advance() with the last Ready before anything else")
