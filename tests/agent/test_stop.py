"""`Agent.stop()` ends `run()` wherever the handshake is: stop is requested at every loop step
around the Welcome's arrival, over an in-memory stream whose steps are deterministic.

The window that matters: asyncio.wait_for (Python 3.11) returns the result, and drops the
cancellation, when the awaited read completes in the same step the task is cancelled. An agent
stopped by SIGTERM just as its Welcome arrived then went on streaming, and never exited."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from net import H1, IP1

from alcor.agent import runner
from alcor.agent.dataplane.memory import MemoryDriver
from alcor.agent.runner import Agent, AgentConfig
from alcor.v1 import goalstate_pb2


class Stream:
    """One Sync call: records what the agent writes; the test decides when the Welcome lands."""

    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        self.hello = asyncio.Event()
        self.welcome: asyncio.Future[Any] = loop.create_future()
        self.reads: list[asyncio.Future[Any]] = []
        self.cancelled = False

    async def write(self, msg: goalstate_pb2.AgentMessage) -> None:
        if msg.WhichOneof("message") == "hello":
            self.hello.set()

    def read(self) -> asyncio.Future[Any]:
        if not self.reads:
            self.reads.append(self.welcome)
        else:  # nothing after the Welcome: reads wait until the call is cancelled
            self.reads.append(asyncio.get_running_loop().create_future())
        return self.reads[-1]

    def cancel(self) -> None:
        self.cancelled = True
        for fut in self.reads:
            fut.cancel()


class Channel:
    """Opens the one Sync call, as the agent asks for it."""

    def __init__(self, stream: Stream) -> None:
        self.stream = stream

    def stream_stream(self, method: str, **serializers: Any) -> Any:
        assert method == runner.SYNC_METHOD
        return lambda metadata=None: self.stream


async def steps(n: int) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


@pytest.mark.parametrize("offset", range(-6, 7))
def test_stop_at_any_step_around_the_welcome_ends_run(monkeypatch: pytest.MonkeyPatch, offset: int) -> None:
    """offset < 0: stop first, the Welcome lands -offset steps later; otherwise the reverse."""

    async def main() -> None:
        stream = Stream()
        agent = Agent(
            AgentConfig(host_id=H1, controllers=["127.0.0.1:1"], underlay_ip=IP1, resync_interval=None),
            MemoryDriver(IP1),
        )
        monkeypatch.setattr(agent, "_channel", lambda endpoint: Channel(stream))
        welcome = goalstate_pb2.ControllerMessage(welcome=goalstate_pb2.Welcome(resumed=False, revision=1))
        task = asyncio.create_task(agent.run())
        await asyncio.wait_for(stream.hello.wait(), 10)
        if offset < 0:
            agent.stop()
            await steps(-offset)
            if not stream.welcome.done():  # not cancelled with the call already
                stream.welcome.set_result(welcome)
        else:
            stream.welcome.set_result(welcome)
            await steps(offset)
            agent.stop()
        await asyncio.wait_for(task, 10)  # a guard against a hang, not a timing assertion
        assert stream.cancelled
        assert not agent.connected

    asyncio.run(main())
