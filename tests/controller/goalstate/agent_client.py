"""A minimal goal-state stream client for the servicer tests: a real gRPC stream (sync API),
a reader thread so that every receive has a timeout, and the agent's own goal-state model."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

import grpc

from alcor.agent.dataplane.model import GoalState
from alcor.v1 import goalstate_pb2 as gs
from alcor.v1 import goalstate_pb2_grpc

_END = object()


class AgentStream:
    def __init__(
        self, endpoint: str, host_id: str, token: str = "", *, last_applied: int = 0,
        underlay_ip: str = "192.0.2.10", first: gs.AgentMessage | None = None,
    ) -> None:  # fmt: skip
        self.host_id = host_id
        self.channel = grpc.insecure_channel(endpoint)
        self.stub = goalstate_pb2_grpc.GoalStateServiceStub(self.channel)
        self._out: queue.Queue[object] = queue.Queue()
        self._in: queue.Queue[object] = queue.Queue()
        hello = gs.Hello(
            host_id=host_id, underlay_ip=underlay_ip, agent_version="test", last_applied_revision=last_applied
        )
        self._out.put(first or gs.AgentMessage(hello=hello))
        metadata = [("authorization", f"Bearer {token}")] if token else []
        self.call = self.stub.Sync(self._requests(), metadata=metadata)
        self.error: grpc.RpcError | None = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.goal = GoalState(host_id=host_id)

    def _requests(self) -> Iterator[gs.AgentMessage]:
        while True:
            message = self._out.get()
            if message is _END:
                return
            yield message  # type: ignore[misc]

    def _read(self) -> None:
        try:
            for message in self.call:
                self._in.put(message)
        except grpc.RpcError as e:
            self.error = e
        self._in.put(_END)

    def recv(self, timeout: float = 10.0) -> gs.ControllerMessage | None:
        """The next message; None when the stream ended (see `code()`)."""
        message = self._in.get(timeout=timeout)
        return None if message is _END else message  # type: ignore[return-value]

    def welcome(self) -> gs.Welcome:
        message = self.recv()
        assert message is not None and message.HasField("welcome"), (message, self.code())
        return message.welcome

    def update(self, timeout: float = 10.0) -> gs.GoalStateUpdate:
        """The next update, applied to `goal` (the agent's model refuses out-of-order deltas)."""
        message = self.recv(timeout)
        assert message is not None and message.HasField("update"), (message, self.code())
        self.goal = self.goal.apply(message.update)
        return message.update

    def nothing(self, timeout: float = 0.3) -> bool:
        try:
            self._in.get(timeout=timeout)
        except queue.Empty:
            return True
        return False

    def ack(self, revision: int, statuses: list[gs.ResourceStatus] | None = None) -> None:
        self._out.put(gs.AgentMessage(ack=gs.GoalStateAck(revision=revision, statuses=statuses or [])))

    def send(self, message: gs.AgentMessage) -> None:
        self._out.put(message)

    def code(self) -> grpc.StatusCode | None:
        return self.error.code() if self.error is not None else None

    def ended(self, timeout: float = 10.0) -> grpc.StatusCode | None:
        """Wait for the stream to end; its status code (None: ended OK)."""
        while self.recv(timeout) is not None:
            pass
        return self.code()

    def close(self) -> None:
        self._out.put(_END)
        self.call.cancel()
        self._reader.join(5)
        self.channel.close()
