"""A leader's view of each member: how far its log matches, and how much to send it next.

Owns flow control (probe one message at a time until a follower's log is found to match, then
pipeline up to a window of messages, or wait for a snapshot), membership (voters and learners)
and the quorum arithmetic that commit, elections, CheckQuorum and ReadIndex share. Learners get
a Progress (they are replicated to) but never count toward a quorum.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from enum import IntEnum

from .types import ConfChange, ConfChangeType, ConfState


class ProgressState(IntEnum):
    PROBE = 0  # next is a guess: one message per heartbeat until a success reveals the match
    REPLICATE = 1  # match is known: stream optimistically, up to the inflight window
    SNAPSHOT = 2  # a snapshot is on its way: send nothing until it is acknowledged or fails


class Inflights:
    """The last index of every AppendEntries in flight to one follower, oldest first."""

    __slots__ = ("_bytes", "_queue", "max_bytes", "max_count")

    def __init__(self, max_count: int, max_bytes: int = 0) -> None:
        self.max_count = max_count
        self.max_bytes = max_bytes
        self._queue: deque[tuple[int, int]] = deque()
        self._bytes = 0

    def add(self, index: int, size: int) -> None:
        self._queue.append((index, size))
        self._bytes += size

    def free_le(self, index: int) -> None:
        """An ack up to index: every message ending at or before it is delivered."""
        q = self._queue
        while q and q[0][0] <= index:
            self._bytes -= q.popleft()[1]

    def free_first_one(self) -> None:
        if self._queue:
            self._bytes -= self._queue.popleft()[1]

    def full(self) -> bool:
        return len(self._queue) >= self.max_count or (0 < self.max_bytes <= self._bytes)

    def reset(self) -> None:
        self._queue.clear()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._queue)


class Progress:
    __slots__ = (
        "inflights",
        "is_learner",
        "match",
        "next",
        "pending_snapshot",
        "probe_sent",
        "recent_active",
        "state",
    )

    def __init__(self, next_index: int, inflights: Inflights, is_learner: bool = False) -> None:
        self.match = 0
        self.next = next_index
        self.state = ProgressState.PROBE
        self.pending_snapshot = 0
        # Heard from since the last CheckQuorum round (any response counts).
        self.recent_active = False
        # In PROBE: one message is out; wait for its answer or the next heartbeat response.
        self.probe_sent = False
        self.inflights = inflights
        self.is_learner = is_learner

    def __repr__(self) -> str:
        return (
            f"Progress({self.state.name} match={self.match} next={self.next} "
            f"inflight={len(self.inflights)} snap={self.pending_snapshot})"
        )

    def reset(self, next_index: int) -> None:
        """A fresh view, as at the start of a term."""
        self.match = 0
        self.next = next_index
        self.recent_active = False
        self._reset(ProgressState.PROBE)

    def become_probe(self) -> None:
        if self.state == ProgressState.SNAPSHOT:
            # The snapshot arrived (or we were told so): probe from just after it.
            self.next = max(self.match + 1, self.pending_snapshot + 1)
        else:
            self.next = self.match + 1
        self._reset(ProgressState.PROBE)

    def become_replicate(self) -> None:
        self.next = self.match + 1
        self._reset(ProgressState.REPLICATE)

    def become_snapshot(self, index: int) -> None:
        self._reset(ProgressState.SNAPSHOT)
        self.pending_snapshot = index

    def _reset(self, state: ProgressState) -> None:
        self.state = state
        self.probe_sent = False
        self.pending_snapshot = 0
        self.inflights.reset()

    def maybe_update(self, index: int) -> bool:
        """A success ack up to index. Never moves match or next backwards (pysyncobj B4)."""
        if index <= self.match:
            return False
        self.match = index
        self.next = max(self.next, index + 1)
        self.probe_sent = False
        return True

    def sent_entries(self, last_index: int, count: int, size: int) -> None:
        if self.state == ProgressState.REPLICATE:
            if count:
                self.next = last_index + 1
                self.inflights.add(last_index, size)
        elif self.state == ProgressState.PROBE:
            self.probe_sent = True

    def maybe_decr_to(self, rejected: int, match_hint: int) -> bool:
        """A rejection of the append after `rejected`: back next up, unless the reply is stale."""
        if self.state == ProgressState.REPLICATE:
            if rejected <= self.match:
                return False
            self.next = self.match + 1
            return True
        if self.state == ProgressState.SNAPSHOT or self.next - 1 != rejected:
            return False  # stale: in PROBE only the newest probe's answer counts
        self.next = max(min(rejected, match_hint + 1), self.match + 1)
        self.probe_sent = False
        return True

    def is_paused(self) -> bool:
        if self.state == ProgressState.PROBE:
            return self.probe_sent
        if self.state == ProgressState.REPLICATE:
            return self.inflights.full()
        return True


class Tracker:
    """Membership and every member's Progress (the progress map matters only on a leader)."""

    def __init__(self, max_inflight_msgs: int, max_inflight_bytes: int) -> None:
        self._max_inflight = (max_inflight_msgs, max_inflight_bytes)
        self.voters: tuple[str, ...] = ()
        self.learners: tuple[str, ...] = ()
        self.progress: dict[str, Progress] = {}
        self.votes: dict[str, bool] = {}

    def _new_progress(self, next_index: int, is_learner: bool) -> Progress:
        return Progress(next_index, Inflights(*self._max_inflight), is_learner)

    # -- membership -------------------------------------------------------------------------

    def conf_state(self) -> ConfState:
        return ConfState(self.voters, self.learners)

    def members(self) -> tuple[str, ...]:
        return tuple(sorted(self.voters + self.learners))

    def restore(self, cs: ConfState, next_index: int) -> None:
        self.voters = tuple(sorted(cs.voters))
        self.learners = tuple(sorted(set(cs.learners) - set(cs.voters)))
        self.progress = {}
        for v in self.voters:
            self.progress[v] = self._new_progress(next_index, False)
        for v in self.learners:
            self.progress[v] = self._new_progress(next_index, True)
        self.votes = {}

    def validate(self, cc: ConfChange) -> str | None:
        """Why cc makes no sense against the current membership (None if it is fine)."""
        voter, learner = cc.node_id in self.voters, cc.node_id in self.learners
        if not cc.node_id:
            return "empty node id"
        if cc.type == ConfChangeType.ADD_VOTER and voter:
            return f"{cc.node_id} is already a voter"
        if cc.type == ConfChangeType.ADD_LEARNER and (voter or learner):
            return f"{cc.node_id} is already a member"
        if cc.type == ConfChangeType.PROMOTE and not learner:
            return f"{cc.node_id} is not a learner"
        if cc.type == ConfChangeType.REMOVE:
            if not (voter or learner):
                return f"{cc.node_id} is not a member"
            if voter and len(self.voters) == 1:
                return "cannot remove the last voter"
        if cc.type not in (
            ConfChangeType.ADD_VOTER,
            ConfChangeType.ADD_LEARNER,
            ConfChangeType.PROMOTE,
            ConfChangeType.REMOVE,
        ):
            return f"unknown conf change type {cc.type}"
        return None

    def apply(self, cc: ConfChange, next_index: int) -> bool:
        """Apply a committed change. Every replica applies the same sequence, so anything that
        does not make sense (validated away on the leader but raced) is skipped identically."""
        if self.validate(cc) is not None:
            return False
        node = cc.node_id
        voters, learners = set(self.voters), set(self.learners)
        if cc.type in (ConfChangeType.ADD_VOTER, ConfChangeType.PROMOTE):
            learners.discard(node)
            voters.add(node)
        elif cc.type == ConfChangeType.ADD_LEARNER:
            learners.add(node)
        else:  # REMOVE
            voters.discard(node)
            learners.discard(node)
        self.voters, self.learners = tuple(sorted(voters)), tuple(sorted(learners))
        if node in voters or node in learners:
            pr = self.progress.get(node)
            if pr is None:
                self.progress[node] = self._new_progress(next_index, node in learners)
            else:
                pr.is_learner = node in learners
        else:
            self.progress.pop(node, None)
            self.votes.pop(node, None)
        return True

    # -- quorum -----------------------------------------------------------------------------

    def quorum(self) -> int:
        return len(self.voters) // 2 + 1

    def has_quorum(self, ids: Iterable[str]) -> bool:
        voters = self.voters
        return sum(1 for i in ids if i in voters) >= self.quorum()

    def committed_index(self) -> int:
        """The highest index replicated on a quorum of voters."""
        if not self.voters:
            return 0
        matches = sorted((self.progress[v].match for v in self.voters), reverse=True)
        return matches[self.quorum() - 1]

    def quorum_active(self, self_id: str) -> bool:
        return self.has_quorum(v for v in self.voters if v == self_id or self.progress[v].recent_active)

    def reset_recent_active(self, self_id: str) -> None:
        for node, pr in self.progress.items():
            pr.recent_active = node == self_id

    # -- elections --------------------------------------------------------------------------

    def reset_votes(self) -> None:
        self.votes = {}

    def record_vote(self, node: str, granted: bool) -> None:
        self.votes.setdefault(node, granted)

    def vote_result(self) -> bool | None:
        """True: won, False: lost (a quorum can no longer be reached), None: undecided."""
        granted = sum(1 for v in self.voters if self.votes.get(v) is True)
        missing = sum(1 for v in self.voters if v not in self.votes)
        q = self.quorum()
        if granted >= q:
            return True
        if granted + missing < q:
            return False
        return None
