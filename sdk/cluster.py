"""The ClusterService operations (status, membership, leadership) and their result types.

Membership changes carry no request id, so they are repeated only where the member refused
them without acting (UNAVAILABLE: not the leader, or unreachable), never after a deadline.
"""

from __future__ import annotations

from dataclasses import dataclass

from alcor.v1 import cluster_pb2

from .call import CLUSTER, Call


@dataclass(frozen=True, slots=True)
class Member:
    id: str
    peer_address: str
    api_address: str
    role: str  # "voter" | "learner"
    is_leader: bool
    match_index: int


@dataclass(frozen=True, slots=True)
class ClusterStatus:
    member_id: str
    leader_id: str
    term: int
    commit_index: int
    applied_index: int
    members: tuple[Member, ...]


def _member(m: cluster_pb2.Member) -> Member:
    role = "learner" if m.role == cluster_pb2.MEMBER_ROLE_LEARNER else "voter"
    return Member(m.id, m.peer_address, m.api_address, role, m.is_leader, m.match_index)


def _members(r: cluster_pb2.MembersResponse) -> list[Member]:
    return [_member(m) for m in r.members]


def _status(r: cluster_pb2.ClusterStatusResponse) -> ClusterStatus:
    return ClusterStatus(
        r.member_id,
        r.leader_id,
        r.term,
        r.commit_index,
        r.applied_index,
        tuple(_member(m) for m in r.members),
    )


def cluster_status(*, timeout: float | None = None) -> Call[ClusterStatus]:
    """The leader, term, commit and applied index, and every member, as one member sees them."""
    return Call(CLUSTER, "Status", cluster_pb2.ClusterStatusRequest(), _status, timeout)


def add_member(
    member_id: str, peer_address: str, api_address: str = "", promote: bool = True, timeout: float = 120.0
) -> Call[list[Member]]:
    """Add a member as a learner and, with promote, make it a voter once caught up."""
    req = cluster_pb2.AddMemberRequest(
        id=member_id, peer_address=peer_address, api_address=api_address, promote_when_caught_up=promote
    )
    return Call(CLUSTER, "AddMember", req, _members, timeout, idempotent=False)


def remove_member(member_id: str, timeout: float = 30.0) -> Call[list[Member]]:
    """Remove a member; if it leads, it hands leadership over first."""
    return Call(
        CLUSTER,
        "RemoveMember",
        cluster_pb2.RemoveMemberRequest(id=member_id),
        _members,
        timeout,
        idempotent=False,
    )


def transfer_leader(target_id: str = "", timeout: float = 30.0) -> Call[str]:
    """Move leadership to target_id (default: the most up-to-date other voter); returns it."""
    return Call(
        CLUSTER,
        "TransferLeader",
        cluster_pb2.TransferLeaderRequest(target_id=target_id),
        lambda r: str(r.leader_id),
        timeout,
        idempotent=False,
    )
