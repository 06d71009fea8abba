"""ClusterService (alcor.v1) over a RaftNode: status, add/remove member, transfer leadership.

Membership changes run on the leader. A member that is not the leader refuses them with
UNAVAILABLE and a google.rpc.ErrorInfo (reason NOT_LEADER) whose metadata names the leader's id
and API address, so a client can go there; the SDK does so by itself.
"""

from __future__ import annotations

import grpc
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from alcor.v1 import cluster_pb2, cluster_pb2_grpc, network_pb2

from .errors import NotLeader, OutcomeUnknown, ProposalDropped, RaftError
from .node import RaftNode
from .types import Role

DOMAIN = "alcor.dev"  # the same domain as the state machine's errors


def error_status(code: grpc.StatusCode, message: str, reason: str, metadata: dict[str, str] | None = None) -> grpc.Status:
    """A gRPC status carrying a google.rpc.ErrorInfo detail."""
    info = error_details_pb2.ErrorInfo(reason=reason, domain=DOMAIN, metadata=metadata or {})
    status = status_pb2.Status(code=getattr(code_pb2, code.name), message=message)
    status.details.add().Pack(info)
    return rpc_status.to_status(status)


class ClusterServicer(cluster_pb2_grpc.ClusterServiceServicer):
    def __init__(self, node: RaftNode) -> None:
        self.node = node

    def add_to_server(self, server: grpc.aio.Server) -> None:
        cluster_pb2_grpc.add_ClusterServiceServicer_to_server(self, server)

    def _header(self) -> network_pb2.ResponseHeader:
        s = self.node.status()
        return network_pb2.ResponseHeader(revision=s.applied_index, member_id=s.id, raft_term=s.term)

    def _members(self) -> list[cluster_pb2.Member]:
        s = self.node.status()
        return [
            cluster_pb2.Member(
                id=m.id,
                peer_address=m.peer_address,
                api_address=m.api_address,
                role=cluster_pb2.MEMBER_ROLE_LEARNER if m.learner else cluster_pb2.MEMBER_ROLE_VOTER,
                is_leader=m.id == s.leader,
                match_index=s.match.get(m.id, 0),
            )
            for m in s.members
        ]

    def _members_response(self) -> cluster_pb2.MembersResponse:
        return cluster_pb2.MembersResponse(header=self._header(), members=self._members(), leader_id=self.node.leader)

    async def _refuse(self, context: grpc.aio.ServicerContext, e: Exception) -> None:
        if isinstance(e, NotLeader):
            leader = self.node.leader
            api = self.node.addresses.get(leader, ("", ""))[1]
            await context.abort_with_status(error_status(
                grpc.StatusCode.UNAVAILABLE,
                f"{self.node.id} is not the leader (leader: {leader or 'unknown'})",
                "NOT_LEADER", {"leader_id": leader, "leader_api": api},
            ))
        elif isinstance(e, ProposalDropped):
            await context.abort_with_status(error_status(
                grpc.StatusCode.FAILED_PRECONDITION, str(e), "CHANGE_PENDING"))
        elif isinstance(e, ValueError):
            await context.abort_with_status(error_status(
                grpc.StatusCode.FAILED_PRECONDITION, str(e), "INVALID_MEMBERSHIP_CHANGE"))
        elif isinstance(e, OutcomeUnknown):
            await context.abort_with_status(error_status(
                grpc.StatusCode.DEADLINE_EXCEEDED, str(e), "OUTCOME_UNKNOWN"))
        raise e

    def _require_leader(self) -> None:
        if self.node.role != Role.LEADER:
            raise NotLeader(self.node.leader)

    async def Status(self, request: cluster_pb2.ClusterStatusRequest, context: grpc.aio.ServicerContext) -> cluster_pb2.ClusterStatusResponse:
        s = self.node.status()
        return cluster_pb2.ClusterStatusResponse(
            header=self._header(), member_id=s.id, leader_id=s.leader, term=s.term,
            commit_index=s.commit_index, applied_index=s.applied_index, members=self._members(),
        )

    async def AddMember(self, request: cluster_pb2.AddMemberRequest, context: grpc.aio.ServicerContext) -> cluster_pb2.MembersResponse:
        if not request.id or not request.peer_address:
            await context.abort_with_status(error_status(
                grpc.StatusCode.INVALID_ARGUMENT, "a member needs an id and a peer address", "INVALID_MEMBER"))
        try:
            self._require_leader()
            await self.node.add_member(request.id, request.peer_address, request.api_address,
                                       promote=request.promote_when_caught_up)
        except (RaftError, ValueError) as e:
            await self._refuse(context, e)
        return self._members_response()

    async def RemoveMember(self, request: cluster_pb2.RemoveMemberRequest, context: grpc.aio.ServicerContext) -> cluster_pb2.MembersResponse:
        try:
            self._require_leader()
            # a leader leaving hands leadership over first; the client retries at the new leader
            await self.node.remove_member(request.id)
        except (RaftError, ValueError) as e:
            await self._refuse(context, e)
        return self._members_response()

    async def TransferLeader(self, request: cluster_pb2.TransferLeaderRequest, context: grpc.aio.ServicerContext) -> cluster_pb2.MembersResponse:
        try:
            self._require_leader()
            await self.node.transfer_leader(request.target_id)
        except (RaftError, ValueError) as e:
            await self._refuse(context, e)
        return self._members_response()
