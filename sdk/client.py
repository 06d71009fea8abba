"""`Client`: the synchronous Python client (DESIGN.md section 5), the blocking transport under
the operations of api.py, and `Watch`, the resuming event iterator.

    with Client("10.0.0.1:6001,10.0.0.2:6001", token=...) as c:
        vpc = c.create_vpc(name="web", cidr="10.0.0.0/16")
        for event in c.watch(kinds=["port"], from_revision=vpc.revision):
            ...
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import grpc

from alcor.v1 import cluster_pb2_grpc, network_pb2_grpc, watch_pb2, watch_pb2_grpc

from . import ops
from .api import DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_TIMEOUT, Api
from .call import CLUSTER, NETWORK, WATCH, Call, Page
from .errors import AlcorError, from_rpc_error
from .retry import Attempts, parse_endpoints
from .watch import WatchCursor, resumable, stream_error

__all__ = ["Client", "Watch", "parse_endpoints"]

STUBS: dict[str, Callable[[Any], Any]] = {
    NETWORK: network_pb2_grpc.NetworkServiceStub,
    WATCH: watch_pb2_grpc.WatchServiceStub,
    CLUSTER: cluster_pb2_grpc.ClusterServiceStub,
}
CHANNEL_OPTIONS = [("grpc.max_receive_message_length", 64 << 20), ("grpc.max_send_message_length", 64 << 20)]


class Client(Api):
    """A blocking connection to an Alcor cluster through any of its members' API endpoints.

    endpoints: "host:port,host:port" or a list; token: bearer token; tls: channel credentials
    (see tls_credentials) or None for plaintext; timeout: default deadline of a call in seconds
    (each method also takes timeout=); attempt_timeout: the longest one attempt of an idempotent
    call may take before the next member is tried (None: the whole deadline).
    """

    def __init__(
        self,
        endpoints: str | Sequence[str],
        token: str | None = None,
        tls: grpc.ChannelCredentials | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        attempt_timeout: float | None = DEFAULT_ATTEMPT_TIMEOUT,
    ) -> None:
        super().__init__(endpoints, token, tls, timeout, attempt_timeout)
        self._channels: dict[str, grpc.Channel] = {}
        self._stubs: dict[tuple[str, str], Any] = {}

    def close(self) -> None:
        for ch in self._channels.values():
            ch.close()
        self._channels.clear()
        self._stubs.clear()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _stub(self, endpoint: str, service: str) -> Any:
        stub = self._stubs.get((endpoint, service))
        if stub is None:
            ch = self._channels.get(endpoint)
            if ch is None:
                ch = (
                    grpc.secure_channel(endpoint, self._tls, CHANNEL_OPTIONS)
                    if self._tls is not None
                    else grpc.insecure_channel(endpoint, CHANNEL_OPTIONS)
                )
                self._channels[endpoint] = ch
            stub = self._stubs[(endpoint, service)] = STUBS[service](ch)
        return stub

    def _run(self, call: Call[Any]) -> Any:
        attempts = Attempts(self.router, call, self.timeout, self.attempt_timeout)
        while True:
            endpoint, timeout = attempts.next()
            method = getattr(self._stub(endpoint, call.service), call.method)
            try:
                response = method(call.request, timeout=timeout, metadata=self._metadata)
            except grpc.RpcError as e:
                pause = attempts.failed(from_rpc_error(e))
                if pause:
                    time.sleep(pause)
                continue
            return self._result(call, response)

    def _items(self, page_call: Callable[..., Call[Page[Any]]]) -> Iterator[Any]:
        token = ""
        while True:
            page = self._run(page_call(page_token=token))
            yield from page.items
            token = page.next_page_token
            if not token:
                return

    def watch(
        self,
        kinds: Iterable[int | str] | int | str | None = None,
        from_revision: int | None = None,
        project_id: str = "",
        progress_interval_ms: int = 1000,
        reconnect_timeout: float | None = None,
    ) -> Watch:
        """Iterate the change events of the cluster in revision order (alcor.v1.watch_pb2.Event).

        kinds: ResourceKind values or names ("vpc", "port", ...), default all; from_revision:
        the first revision to deliver (None: changes after now). A broken stream is resumed at
        another member from the last revision seen + 1, for up to reconnect_timeout (default:
        the client's timeout) without an answer. Raises OutOfRange (with .oldest_revision) when
        from_revision is compacted. Close the Watch (or use it as a context manager) to stop.
        """
        cursor = WatchCursor(kinds, from_revision, project_id, progress_interval_ms)
        return Watch(self, cursor, self.timeout if reconnect_timeout is None else reconnect_timeout)


class Watch:
    """An iterator of Events; `revision` is the revision up to which everything was delivered."""

    def __init__(
        self,
        client: Client,
        cursor: WatchCursor,
        reconnect_timeout: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.cursor = cursor
        self.reconnect_timeout = reconnect_timeout
        self.clock = clock
        self._pending: deque[watch_pb2.Event] = deque()
        self._call: Any = None
        self._endpoint = ""
        self._closed = False
        self._failures = 0
        self._last_ok = self._last_heard = clock()
        self._stop = threading.Event()
        self._watchdog: threading.Thread | None = None

    @property
    def revision(self) -> int:
        return self.cursor.revision

    def __iter__(self) -> Watch:
        return self

    def __next__(self) -> watch_pb2.Event:
        while not self._pending:
            if self._closed:
                raise StopIteration
            self._pending.extend(self._read())
        return self._pending.popleft()

    def close(self) -> None:
        self._closed = True
        self._stop.set()
        if self._call is not None:
            self._call.cancel()

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self) -> None:
        if not self.cursor.next_revision:
            self.cursor.pin(self.client._run(ops.current_revision()))
        self._endpoint = self.client.router.endpoint
        stub = self.client._stub(self._endpoint, WATCH)
        self._last_heard = self.clock()
        self._call = stub.Watch(self.cursor.request(), metadata=self.client._metadata)
        if self._watchdog is None:
            self._watchdog = threading.Thread(target=self._watch_idle, name="alcor-watch-idle", daemon=True)
            self._watchdog.start()

    def _read(self) -> list[watch_pb2.Event]:
        error: BaseException | None = None
        try:
            if self._call is None:
                self._open()
            response = next(self._call)
        except StopIteration:
            pass
        except (grpc.RpcError, AlcorError) as e:
            error = e
        else:
            self._last_ok = self._last_heard = self.clock()
            self._failures = 0
            return self.cursor.accept(response)
        self._call = None
        if self._closed:
            return []
        err = stream_error(error)
        if not resumable(err) or self.clock() - self._last_ok > self.reconnect_timeout:
            self.close()
            raise err
        self.client.router.redirect(err, self._endpoint)
        self._failures += 1
        time.sleep(min(0.05 * self._failures, 0.5))
        return []

    def _watch_idle(self) -> None:
        """Cancel a stream that has said nothing for the idle timeout (a stopped member)."""
        idle = self.cursor.idle_timeout
        while not self._stop.wait(idle / 4):
            call = self._call
            if call is not None and self.clock() - self._last_heard > idle:
                call.cancel()
