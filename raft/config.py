"""Tuning knobs of one Raft node, with the checks that keep them consistent."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Config:
    id: str
    # Ticks without hearing from a leader before campaigning; the real timeout is drawn from
    # [election_tick, 2 * election_tick) so that nodes rarely split a vote.
    election_tick: int = 10
    heartbeat_tick: int = 1
    # A leader that has not heard from a quorum for election_tick ticks steps down, and a
    # follower that heard from a leader within election_tick ignores (pre)votes (leader lease).
    check_quorum: bool = True
    # Campaign only after a dry run at term + 1 shows a quorum would vote: a partitioned node
    # that rejoins then cannot force the cluster into a new term.
    pre_vote: bool = True
    # Bytes of entries per AppendEntries message (at least one entry is always sent).
    max_size_per_msg: int = 1 << 20
    # AppendEntries messages in flight per follower before the leader waits for acks.
    max_inflight_msgs: int = 256
    # Bytes in flight per follower (0: no byte limit).
    max_inflight_bytes: int = 0
    # Bytes of committed entries handed to the application in one Ready.
    max_committed_size_per_ready: int = 64 << 20

    def validate(self) -> None:
        if not self.id:
            raise ValueError("node id must not be empty")
        if self.heartbeat_tick <= 0:
            raise ValueError("heartbeat_tick must be positive")
        if self.election_tick <= self.heartbeat_tick:
            raise ValueError("election_tick must be greater than heartbeat_tick")
        if self.max_inflight_msgs <= 0:
            raise ValueError("max_inflight_msgs must be positive")
        if self.max_size_per_msg <= 0 or self.max_committed_size_per_ready <= 0:
            raise ValueError("size limits must be positive")
