"""`Client`: the synchronous Python client (DESIGN.md section 5). It finds the member that can
serve a request, follows "not the leader" hints, retries what is safe to retry, and raises the
typed exceptions of alcor.sdk.errors.

The cluster calls (status, membership, leadership) live here today; the network resource
calls join them on the same machinery.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc

from alcor.v1 import cluster_pb2, cluster_pb2_grpc

from .errors import AlcorError, DeadlineExceeded, Unavailable, from_rpc_error

T = TypeVar("T")


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


def parse_endpoints(endpoints: str | Sequence[str]) -> list[str]:
    items = endpoints.split(",") if isinstance(endpoints, str) else list(endpoints)
    out = [e.strip() for e in items if e.strip()]
    if not out:
        raise ValueError("no endpoints given (host:port[,host:port...])")
    return out


class Client:
    """A connection to an Alcor controller cluster through any of its members' API endpoints."""

    def __init__(self, endpoints: str | Sequence[str], token: str | None = None,
                 tls: grpc.ChannelCredentials | None = None, timeout: float = 10.0) -> None:
        self.endpoints = parse_endpoints(endpoints)
        self._token = token
        self._tls = tls
        self.timeout = timeout
        self._channels: dict[str, grpc.Channel] = {}
        self._current = 0

    def close(self) -> None:
        for ch in self._channels.values():
            ch.close()
        self._channels.clear()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- call machinery -------------------------------------------------------------------------

    def _channel(self, endpoint: str) -> grpc.Channel:
        ch = self._channels.get(endpoint)
        if ch is None:
            ch = (grpc.secure_channel(endpoint, self._tls) if self._tls is not None
                  else grpc.insecure_channel(endpoint))
            self._channels[endpoint] = ch
        return ch

    def _metadata(self) -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {self._token}")] if self._token else []

    def _call(self, stub_factory: Callable[[grpc.Channel], Any], method: str, request: Any,
              timeout: float | None = None) -> Any:
        """Call method on a member; on UNAVAILABLE follow the leader hint or try the next member,
        until the deadline. Other errors are raised at once as typed exceptions."""
        deadline = time.monotonic() + (timeout or self.timeout)
        last: AlcorError | None = None
        attempt = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise last or DeadlineExceeded(f"{method}: no answer before the deadline")
            endpoint = self.endpoints[self._current % len(self.endpoints)]
            fn = getattr(stub_factory(self._channel(endpoint)), method)
            try:
                return fn(request, timeout=remaining, metadata=self._metadata())
            except grpc.RpcError as e:
                err = from_rpc_error(e)
                if not isinstance(err, Unavailable):
                    raise err from None
                last = err
                hint = err.metadata.get("leader_api", "")
                if hint:
                    if hint not in self.endpoints:
                        self.endpoints.append(hint)
                    self._current = self.endpoints.index(hint)
                else:
                    self._current += 1
                attempt += 1
                # a leader election takes a moment: back off briefly once every member was tried
                if attempt % len(self.endpoints) == 0:
                    time.sleep(min(0.05 * attempt, 0.5))

    # -- cluster ------------------------------------------------------------------------------------

    def cluster_status(self) -> ClusterStatus:
        r = self._call(cluster_pb2_grpc.ClusterServiceStub, "Status", cluster_pb2.ClusterStatusRequest())
        return ClusterStatus(r.member_id, r.leader_id, r.term, r.commit_index, r.applied_index,
                             tuple(_member(m) for m in r.members))

    def add_member(self, member_id: str, peer_address: str, api_address: str = "",
                   promote: bool = True, timeout: float = 120.0) -> list[Member]:
        """Add a member as a learner and, with promote, make it a voter once caught up."""
        req = cluster_pb2.AddMemberRequest(id=member_id, peer_address=peer_address,
                                           api_address=api_address, promote_when_caught_up=promote)
        r = self._call(cluster_pb2_grpc.ClusterServiceStub, "AddMember", req, timeout)
        return [_member(m) for m in r.members]

    def remove_member(self, member_id: str, timeout: float = 30.0) -> list[Member]:
        """Remove a member; if it leads, it hands leadership over first."""
        r = self._call(cluster_pb2_grpc.ClusterServiceStub, "RemoveMember",
                       cluster_pb2.RemoveMemberRequest(id=member_id), timeout)
        return [_member(m) for m in r.members]

    def transfer_leader(self, target_id: str = "", timeout: float = 30.0) -> str:
        """Move leadership to target_id (default: the most up-to-date other voter); returns it."""
        r = self._call(cluster_pb2_grpc.ClusterServiceStub, "TransferLeader",
                       cluster_pb2.TransferLeaderRequest(target_id=target_id), timeout)
        return str(r.leader_id)
