"""A scripted GoalStateService: the controller's side of the agent stream, played from a script.

Each accepted stream takes the next script (an async function of a `Session`) and runs it; the
script welcomes, sends updates, waits for acks, aborts or ends the stream. When a script returns
without ending the stream, the server keeps reading acks until the agent goes away. Everything
the agent sent (Hello, metadata, acks) is recorded per session. Without scripts left, a stream
is welcomed as resumed and held open.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import grpc

from alcor.v1 import goalstate_pb2, goalstate_pb2_grpc

Script = Callable[["Session"], Awaitable[None]]


class Session:
    def __init__(self, context: grpc.aio.ServicerContext, hello: goalstate_pb2.Hello) -> None:
        self.context = context
        self.hello = hello
        self.metadata = dict(context.invocation_metadata() or ())
        self.acks: list[goalstate_pb2.GoalStateAck] = []
        self.closed_by_agent = asyncio.Event()
        self.ended = False
        self._acks: asyncio.Queue[goalstate_pb2.GoalStateAck] = asyncio.Queue()
        self.other: list[goalstate_pb2.AgentMessage] = []  # anything but acks after Hello

    async def _read(self) -> None:
        try:
            while True:
                msg = await self.context.read()
                if msg is grpc.aio.EOF:
                    break
                if msg.WhichOneof("message") == "ack":
                    self.acks.append(msg.ack)
                    self._acks.put_nowait(msg.ack)
                else:
                    self.other.append(msg)
        except (grpc.RpcError, asyncio.CancelledError, grpc.aio.UsageError):
            pass
        finally:
            self.closed_by_agent.set()

    async def welcome(self, *, resumed: bool, revision: int, member_id: str = "scripted") -> None:
        await self.context.write(
            goalstate_pb2.ControllerMessage(
                welcome=goalstate_pb2.Welcome(member_id=member_id, resumed=resumed, revision=revision)
            )
        )

    async def send(self, update: goalstate_pb2.GoalStateUpdate) -> None:
        await self.context.write(goalstate_pb2.ControllerMessage(update=update))

    async def ack(self, timeout: float = 10.0) -> goalstate_pb2.GoalStateAck:
        """The next ack from the agent."""
        return await asyncio.wait_for(self._acks.get(), timeout)

    async def abort(
        self, code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE, details: str = "scripted"
    ) -> None:
        await self.context.abort(code, details)

    def end(self) -> None:
        """End the stream with OK once the script returns."""
        self.ended = True


class ScriptedController(goalstate_pb2_grpc.GoalStateServiceServicer):
    def __init__(self, *scripts: Script) -> None:
        self.scripts = list(scripts)
        self.sessions: list[Session] = []
        self.new_session = asyncio.Event()

    async def Sync(self, request_iterator, context):  # type: ignore[no-untyped-def]
        first = await context.read()
        if first is grpc.aio.EOF or first.WhichOneof("message") != "hello":
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "expected Hello")
        session = Session(context, first.hello)
        self.sessions.append(session)
        self.new_session.set()
        reader = asyncio.create_task(session._read())
        try:
            if self.scripts:
                await self.scripts.pop(0)(session)
            else:
                await session.welcome(resumed=True, revision=session.hello.last_applied_revision)
            if not session.ended:
                await session.closed_by_agent.wait()
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    async def wait_sessions(self, n: int, timeout: float = 10.0) -> Session:
        """Until `n` streams were accepted; returns the n-th."""

        async def wait() -> None:
            while len(self.sessions) < n:
                self.new_session.clear()
                await self.new_session.wait()

        await asyncio.wait_for(wait(), timeout)
        return self.sessions[n - 1]


async def start(
    *scripts: Script, credentials: grpc.ServerCredentials | None = None
) -> tuple[grpc.aio.Server, ScriptedController, str]:
    controller = ScriptedController(*scripts)
    server = grpc.aio.server()
    goalstate_pb2_grpc.add_GoalStateServiceServicer_to_server(controller, server)
    if credentials is not None:
        port = server.add_secure_port("127.0.0.1:0", credentials)
    else:
        port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, controller, f"127.0.0.1:{port}"


_TABLES = (
    ("vpc", "vpcs", goalstate_pb2.GOAL_STATE_KIND_VPC),
    ("subnet", "subnets", goalstate_pb2.GOAL_STATE_KIND_SUBNET),
    ("port", "ports", goalstate_pb2.GOAL_STATE_KIND_PORT),
    ("neighbor", "neighbors", goalstate_pb2.GOAL_STATE_KIND_NEIGHBOR),
    ("security_group", "security_groups", goalstate_pb2.GOAL_STATE_KIND_SECURITY_GROUP),
    ("group_members", "group_members", goalstate_pb2.GOAL_STATE_KIND_GROUP_MEMBERS),
)


def delta(old, new, *, base: int | None = None, revision: int | None = None) -> goalstate_pb2.GoalStateUpdate:
    """The delta that takes goal state `old` to `new` (model.GoalState values)."""
    update = goalstate_pb2.GoalStateUpdate(
        base_revision=old.revision if base is None else base,
        revision=new.revision if revision is None else revision,
    )
    for field_name, attr, kind in _TABLES:
        before, after = getattr(old, attr), getattr(new, attr)
        for key, msg in after.items():
            if before.get(key) != msg:
                getattr(update.upserts.add(), field_name).CopyFrom(msg)
        for key in before:
            if key not in after:
                update.deletes.add(kind=kind, id=key)
    return update


@asynccontextmanager
async def serving(
    *scripts: Script, credentials: grpc.ServerCredentials | None = None
) -> AsyncIterator[tuple[ScriptedController, str]]:
    """A scripted controller on 127.0.0.1 for the duration of the block."""
    server, controller, address = await start(*scripts, credentials=credentials)
    try:
        yield controller, address
    finally:
        await server.stop(None)
