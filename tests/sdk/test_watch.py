"""watch(): resuming after a broken or silent stream at another member with no gap and no
duplicate, "after now" pinned once, and the compaction error naming the oldest revision."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import grpc
import pytest
from support.scripted import HOLD, Fail, ScriptedServer

from alcor.sdk import AsyncClient, Client, OutOfRange, PermissionDenied
from alcor.sdk.watch import WatchCursor
from alcor.v1 import network_pb2 as net
from alcor.v1 import resources_pb2 as res
from alcor.v1 import watch_pb2 as w


def event(revision: int, port_id: str = "") -> w.Event:
    return w.Event(
        type=w.EVENT_TYPE_CREATED,
        kind=res.RESOURCE_KIND_PORT,
        revision=revision,
        resource=res.Resource(port=res.Port(id=port_id or f"p{revision}", revision=revision)),
    )


def batch(*events: w.Event) -> w.WatchResponse:
    return w.WatchResponse(header=net.ResponseHeader(revision=events[-1].revision), events=events)


def progress(revision: int) -> w.WatchResponse:
    return w.WatchResponse(header=net.ResponseHeader(revision=revision), progress=True)


@pytest.fixture
def members() -> Iterator[tuple[ScriptedServer, ScriptedServer]]:
    a, b = ScriptedServer(), ScriptedServer()
    yield a, b
    a.stop()
    b.stop()


def test_cursor_advances_past_events_and_progress_and_drops_resent_ones() -> None:
    cursor = WatchCursor(kinds=["port", "vpc"], from_revision=5, project_id="p1", progress_interval_ms=200)
    assert cursor.revision == 4
    req = cursor.request()
    assert (list(req.kinds), req.start_revision, req.project_id, req.progress_interval_ms) == (
        [res.RESOURCE_KIND_PORT, res.RESOURCE_KIND_VPC],
        5,
        "p1",
        200,
    )
    assert [e.resource.port.id for e in cursor.accept(batch(event(5), event(5, "q5"), event(7)))] == [
        "p5",
        "q5",
        "p7",
    ]
    assert cursor.accept(batch(event(6), event(7))) == []  # resent: already delivered
    assert cursor.accept(progress(12)) == []
    assert (cursor.revision, cursor.request().start_revision) == (12, 13)


def test_cursor_pins_after_now_once_and_rejects_bad_input() -> None:
    cursor = WatchCursor()
    cursor.pin(40)
    cursor.pin(50)
    assert cursor.request().start_revision == 41
    with pytest.raises(ValueError, match="from_revision"):
        WatchCursor(from_revision=0)
    with pytest.raises(
        ValueError, match="kinds: 'router' is not one of vpc, subnet, port, security_group, node"
    ):
        WatchCursor(kinds=["router"])


def test_broken_stream_resumes_at_another_member_from_last_seen_plus_one(
    members: tuple[ScriptedServer, ScriptedServer],
) -> None:
    a, b = members
    a.on(
        "Watch", [batch(event(5)), batch(event(6), event(6, "q6")), Fail(grpc.StatusCode.UNAVAILABLE, "gone")]
    )
    b.on("Watch", [progress(6), batch(event(7)), batch(event(8))])
    with Client([a.address, b.address], timeout=5) as c, c.watch(kinds="port", from_revision=5) as watch:
        seen = [(e.revision, e.resource.port.id) for _, e in zip(range(5), watch, strict=False)]
        assert watch.revision == 8
    assert seen == [(5, "p5"), (6, "p6"), (6, "q6"), (7, "p7"), (8, "p8")]
    assert [r.start_revision for r in a.requests("Watch")] == [5]
    assert [r.start_revision for r in b.requests("Watch")] == [7]


def test_after_now_is_pinned_before_the_first_stream_and_kept_across_reconnects(
    members: tuple[ScriptedServer, ScriptedServer],
) -> None:
    a, b = members
    a.on("ListVpcs", net.ListVpcsResponse(header=net.ResponseHeader(revision=40)))
    a.on("Watch", [Fail(grpc.StatusCode.UNAVAILABLE, "restarting")])
    b.on("Watch", [batch(event(41))])
    with Client([a.address, b.address], timeout=5) as c, c.watch() as watch:
        assert next(watch).revision == 41
    assert [r.start_revision for r in a.requests("Watch") + b.requests("Watch")] == [41, 41]


def test_a_silent_member_is_left_for_another(members: tuple[ScriptedServer, ScriptedServer]) -> None:
    a, b = members
    a.on("Watch", [batch(event(3)), HOLD])
    b.on("Watch", [batch(event(4))])
    with (
        Client([a.address, b.address], timeout=5) as c,
        c.watch(from_revision=3, progress_interval_ms=50) as watch,
    ):
        assert [next(watch).revision, next(watch).revision] == [3, 4]
    assert b.requests("Watch")[0].start_revision == 4


def test_compacted_start_raises_out_of_range_with_the_oldest_revision(
    members: tuple[ScriptedServer, ScriptedServer],
) -> None:
    a, b = members
    a.on(
        "Watch",
        [
            Fail(
                grpc.StatusCode.OUT_OF_RANGE,
                "revision 2 is compacted",
                "REVISION_COMPACTED",
                {"oldest_revision": "120"},
            )
        ],
    )
    with Client([a.address, b.address], timeout=5) as c, pytest.raises(OutOfRange) as gone:
        next(c.watch(from_revision=2))
    assert gone.value.oldest_revision == 120
    assert gone.value.reason == "REVISION_COMPACTED"
    assert b.received == []


def test_async_watch_resumes_and_raises_typed(members: tuple[ScriptedServer, ScriptedServer]) -> None:
    a, b = members
    a.on(
        "Watch",
        [batch(event(10)), Fail(grpc.StatusCode.UNAVAILABLE, "gone")],
        [Fail(grpc.StatusCode.PERMISSION_DENIED, "project p2: not yours", "PROJECT_MISMATCH")],
    )
    b.on("Watch", [batch(event(11), event(11, "q11")), HOLD])

    async def scenario() -> list[tuple[int, str]]:
        async with AsyncClient([a.address, b.address], timeout=5) as c:
            seen = []
            async with c.watch(from_revision=10, progress_interval_ms=50) as watch:
                async for e in watch:
                    seen.append((e.revision, e.resource.port.id))
                    if len(seen) == 3:
                        break
            with pytest.raises(PermissionDenied):
                c.router.current = 0
                await c.watch(from_revision=1, project_id="p2").__anext__()
            return seen

    assert asyncio.run(scenario()) == [(10, "p10"), (11, "p11"), (11, "q11")]
    assert [r.start_revision for r in b.requests("Watch")] == [11]
