"""GoalStateService.Sync: one bidirectional stream per agent (goalstate.proto).

The stream starts with the agent's Hello (anything else: INVALID_ARGUMENT). The caller must be
that host's agent (an agent token or a TLS client certificate naming it) or an admin; a Hello
for another host is PERMISSION_DENIED, project tokens are refused the same way. The node is
registered (or refreshed) through Raft, the controller answers Welcome{member_id, resumed,
revision} and then streams GoalStateUpdates in revision order from the hub while acks flow the
other way. Any member serves the stream from its applied state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import grpc

from alcor.controller.api.auth import Authenticator, Unauthenticated
from alcor.controller.api.errors import abort
from alcor.controller.goalstate.hub import GoalStateHub
from alcor.controller.goalstate.session import HostSession
from alcor.controller.state import node as node_commands
from alcor.controller.state import validate
from alcor.controller.state.errors import CommandError
from alcor.raft.errors import RaftError
from alcor.v1 import goalstate_pb2 as gs
from alcor.v1 import goalstate_pb2_grpc

log = logging.getLogger(__name__)


class GoalStateServicer(goalstate_pb2_grpc.GoalStateServiceServicer):
    def __init__(self, hub: GoalStateHub, authenticator: Authenticator) -> None:
        self.hub = hub
        self.authenticator = authenticator

    def add_to_server(self, server: grpc.aio.Server) -> None:
        goalstate_pb2_grpc.add_GoalStateServiceServicer_to_server(self, server)

    async def Sync(
        self, request_iterator: AsyncIterator[gs.AgentMessage], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[gs.ControllerMessage]:
        try:
            identity = self.authenticator.identify(context)
        except Unauthenticated as e:
            await abort(context, e)
        try:
            first = await anext(aiter(request_iterator))
        except StopAsyncIteration:
            first = gs.AgentMessage()
        if first.WhichOneof("message") != "hello":
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the stream must start with Hello")
        hello = first.hello
        try:
            validate.host_id(hello.host_id, "hello.host_id")
            node_commands.underlay(hello.underlay_ip, "hello.underlay_ip")
        except CommandError as e:
            await abort(context, e)
        if not identity.admin and identity.host_id != hello.host_id:
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                f"{identity.describe()} may not receive the goal state of host {hello.host_id!r}",
            )
        try:
            await self.hub.register(hello)
        except (CommandError, RaftError) as e:
            await abort(context, e)
        except TimeoutError:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "could not register the node in time; retry")
        session = await self.hub.open(hello)
        reader = asyncio.get_running_loop().create_task(self._read(request_iterator, session))
        try:
            yield gs.ControllerMessage(
                welcome=gs.Welcome(
                    member_id=self.hub.member_id, resumed=session.resumed, revision=session.revision
                )
            )
            while True:
                message = await session.next_message()
                if message is None:
                    break
                yield message
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            self.hub.close(session)
        if session.reason.startswith("invalid:"):
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, session.reason.removeprefix("invalid:").strip()
            )
        if session.reason:
            await context.abort(grpc.StatusCode.ABORTED, session.reason)

    async def _read(self, request_iterator: AsyncIterator[gs.AgentMessage], session: HostSession) -> None:
        """Acks until the agent half-closes; a second Hello or a bad ack ends the stream."""
        try:
            async for message in request_iterator:
                which = message.WhichOneof("message")
                if which == "ack":
                    self.hub.ack(session, message.ack)
                else:
                    session.close("invalid: only acks may follow Hello")
                    return
        except ValueError as e:
            session.close(f"invalid: {e}")
            return
        except grpc.aio.AioRpcError:
            pass  # the agent went away
        except Exception:  # a bug: end this stream (the agent reconnects), never leave it deaf
            log.exception("goal-state stream of host %s: handling an ack failed", session.host_id)
            session.close("internal error while handling an ack")
            return
        session.close()
