"""`AsyncClient`: the asyncio client (grpc.aio) with the same methods as `Client` (api.py); each
unary method returns an awaitable, `list_*` and `watch` return async iterators.

    async with AsyncClient("127.0.0.1:6001") as c:
        port = await c.create_port(subnet_id=subnet.id, host_id="h1")
        async for event in c.watch(kinds=["port"]):
            ...
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any

import grpc

from alcor.v1 import watch_pb2

from . import ops
from .api import DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_TIMEOUT, Api
from .call import WATCH, Call, Page
from .client import CHANNEL_OPTIONS, STUBS
from .errors import AlcorError, Unavailable, from_rpc_error
from .retry import Attempts
from .watch import WatchCursor, resumable, stream_error


class AsyncClient(Api):
    """The asyncio twin of `Client`: same constructor, same methods, awaited. Create and use it
    inside one running event loop."""

    _kind = "AsyncClient"

    def __init__(
        self,
        endpoints: str | Sequence[str],
        token: str | None = None,
        tls: grpc.ChannelCredentials | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        attempt_timeout: float | None = DEFAULT_ATTEMPT_TIMEOUT,
    ) -> None:
        super().__init__(endpoints, token, tls, timeout, attempt_timeout)
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._stubs: dict[tuple[str, str], Any] = {}

    async def close(self) -> None:
        channels = list(self._channels.values())
        self._channels.clear()
        self._stubs.clear()
        for ch in channels:
            await ch.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _stub(self, endpoint: str, service: str) -> Any:
        stub = self._stubs.get((endpoint, service))
        if stub is None:
            ch = self._channels.get(endpoint)
            if ch is None:
                ch = (
                    grpc.aio.secure_channel(endpoint, self._tls, CHANNEL_OPTIONS)
                    if self._tls is not None
                    else grpc.aio.insecure_channel(endpoint, CHANNEL_OPTIONS)
                )
                self._channels[endpoint] = ch
            stub = self._stubs[(endpoint, service)] = STUBS[service](ch)
        return stub

    async def _run(self, call: Call[Any]) -> Any:
        attempts = Attempts(self.router, call, self.timeout, self.attempt_timeout)
        while True:
            endpoint, timeout = attempts.next()
            method = getattr(self._stub(endpoint, call.service), call.method)
            try:
                response = await method(call.request, timeout=timeout, metadata=self._metadata)
            except grpc.RpcError as e:
                pause = attempts.failed(from_rpc_error(e))
                if pause:
                    await asyncio.sleep(pause)
                continue
            return self._result(call, response)

    async def _items(self, page_call: Callable[..., Call[Page[Any]]]) -> AsyncIterator[Any]:
        token = ""
        while True:
            page = await self._run(page_call(page_token=token))
            for item in page.items:
                yield item
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
    ) -> AsyncWatch:
        """As Client.watch, as an async iterator."""
        cursor = WatchCursor(kinds, from_revision, project_id, progress_interval_ms)
        return AsyncWatch(self, cursor, self.timeout if reconnect_timeout is None else reconnect_timeout)


class AsyncWatch:
    """An async iterator of Events; `revision` is the revision up to which all was delivered."""

    def __init__(
        self,
        client: AsyncClient,
        cursor: WatchCursor,
        reconnect_timeout: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.cursor = cursor
        self.reconnect_timeout = reconnect_timeout
        self.clock = clock
        self._pending: list[watch_pb2.Event] = []
        self._call: Any = None
        self._endpoint = ""
        self._closed = False
        self._failures = 0
        self._last_ok = clock()

    @property
    def revision(self) -> int:
        return self.cursor.revision

    def __aiter__(self) -> AsyncWatch:
        return self

    async def __anext__(self) -> watch_pb2.Event:
        while not self._pending:
            if self._closed:
                raise StopAsyncIteration
            self._pending = await self._read()
        return self._pending.pop(0)

    def close(self) -> None:
        self._closed = True
        if self._call is not None:
            self._call.cancel()

    async def __aenter__(self) -> AsyncWatch:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    async def _open(self) -> None:
        if not self.cursor.next_revision:
            self.cursor.pin(await self.client._run(ops.current_revision()))
        self._endpoint = self.client.router.endpoint
        stub = self.client._stub(self._endpoint, WATCH)
        self._call = stub.Watch(self.cursor.request(), metadata=self.client._metadata)

    async def _read(self) -> list[watch_pb2.Event]:
        error: BaseException | None = None
        try:
            if self._call is None:
                await self._open()
            async with asyncio.timeout(self.cursor.idle_timeout):
                response = await self._call.read()
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not self._closed or (task is not None and task.cancelling()):
                raise
            return []  # close() cancelled the stream under this read
        except TimeoutError:
            error = Unavailable(
                f"the watch at {self._endpoint} said nothing for {self.cursor.idle_timeout:.0f}s"
            )
        except (grpc.RpcError, AlcorError) as e:
            error = e
        else:
            if response is not grpc.aio.EOF:
                self._last_ok = self.clock()
                self._failures = 0
                return self.cursor.accept(response)
        if self._call is not None:
            self._call.cancel()
            self._call = None
        if self._closed:
            return []
        err = stream_error(error)
        if not resumable(err) or self.clock() - self._last_ok > self.reconnect_timeout:
            self.close()
            raise err
        self.client.router.redirect(err, self._endpoint)
        self._failures += 1
        await asyncio.sleep(min(0.05 * self._failures, 0.5))
        return []
