"""A scripted stand-in for a controller member, for SDK and CLI unit tests: a real gRPC server
on 127.0.0.1:0 serving every alcor.v1 NetworkService, WatchService and ClusterService method,
answering each call with the next action queued for its method and recording every request.

Actions: a response message (returned), `Fail(...)` (aborts with a google.rpc.Status carrying
ErrorInfo and/or BadRequest details), a callable `(request, context) -> response` and, for the
Watch stream, a list of WatchResponse / Fail / HOLD (stay silent until the client goes away).
A method with nothing queued answers UNIMPLEMENTED.
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import message_factory
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from alcor.v1 import cluster_pb2, network_pb2, watch_pb2

HOLD = object()


@dataclass
class Fail:
    code: grpc.StatusCode
    message: str = "scripted failure"
    reason: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    violations: list[tuple[str, str]] = field(default_factory=list)

    def status(self) -> grpc.Status:
        status = status_pb2.Status(code=getattr(code_pb2, self.code.name), message=self.message)
        if self.reason:
            status.details.add().Pack(
                error_details_pb2.ErrorInfo(reason=self.reason, domain="alcor.dev", metadata=self.metadata)
            )
        if self.violations:
            bad = error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=f, description=d)
                    for f, d in self.violations
                ]
            )
            status.details.add().Pack(bad)
        return rpc_status.to_status(status)


def not_leader(leader_api: str, leader_id: str = "b") -> Fail:
    return Fail(
        grpc.StatusCode.UNAVAILABLE,
        "not the leader",
        "NOT_LEADER",
        {"leader_id": leader_id, "leader_api": leader_api},
    )


@dataclass
class Received:
    method: str
    request: Any
    metadata: dict[str, str]


class ScriptedServer:
    def __init__(self) -> None:
        self.script: dict[str, deque[Any]] = defaultdict(deque)
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self.server = grpc.server(ThreadPoolExecutor(max_workers=8))
        for module, name in (
            (network_pb2, "NetworkService"),
            (watch_pb2, "WatchService"),
            (cluster_pb2, "ClusterService"),
        ):
            service = module.DESCRIPTOR.services_by_name[name]
            handlers = {}
            for m in service.methods:
                req = message_factory.GetMessageClass(m.input_type)
                resp = message_factory.GetMessageClass(m.output_type)
                make = (
                    grpc.unary_stream_rpc_method_handler
                    if m.server_streaming
                    else grpc.unary_unary_rpc_method_handler
                )
                handler = self._stream if m.server_streaming else self._unary
                handlers[m.name] = make(self._bind(handler, m.name), req.FromString, resp.SerializeToString)
            self.server.add_generic_rpc_handlers(
                (grpc.method_handlers_generic_handler(service.full_name, handlers),)
            )
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.address = f"127.0.0.1:{self.port}"
        self.server.start()

    def stop(self) -> None:
        self.server.stop(grace=None)

    def on(self, method: str, *actions: Any) -> ScriptedServer:
        with self._lock:
            self.script[method].extend(actions)
        return self

    def requests(self, method: str) -> list[Any]:
        return [r.request for r in self.received if r.method == method]

    def _bind(self, handler: Any, method: str) -> Any:
        return lambda request, context: handler(method, request, context)

    def _next(self, method: str, request: Any, context: grpc.ServicerContext) -> Any:
        with self._lock:
            self.received.append(Received(method, request, dict(context.invocation_metadata())))
            queue = self.script[method]
            if not queue:
                context.abort(grpc.StatusCode.UNIMPLEMENTED, f"nothing scripted for {method}")
            return queue.popleft()

    def _unary(self, method: str, request: Any, context: grpc.ServicerContext) -> Any:
        action = self._next(method, request, context)
        if callable(action):
            action = action(request, context)
        if isinstance(action, Fail):
            context.abort_with_status(action.status())
        return action

    def _stream(self, method: str, request: Any, context: grpc.ServicerContext) -> Any:
        for item in self._next(method, request, context):
            if isinstance(item, Fail):
                context.abort_with_status(item.status())
            elif item is HOLD:
                gone = threading.Event()
                context.add_callback(gone.set)
                gone.wait(30)
                return
            else:
                yield item
