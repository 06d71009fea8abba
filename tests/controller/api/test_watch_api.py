"""WatchService over a real controller: revision order without gaps, filters, project scoping,
progress notifications, resume from a revision, and the compaction error."""

from __future__ import annotations

import time
from collections.abc import Iterator

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from support.controller import InProcessCluster, write_tokens

from alcor.v1 import network_pb2 as net
from alcor.v1 import network_pb2_grpc, watch_pb2, watch_pb2_grpc
from alcor.v1 import resources_pb2 as res

TOKENS = {"admin-token": "admin", "p1-token": "project:p1", "p2-token": "project:p2"}


def md(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessCluster]:
    root = tmp_path_factory.mktemp("watch")
    tokens = write_tokens(root / "tokens", TOKENS)
    # a short history and a quick compactor, so the compaction error can be provoked
    with InProcessCluster(root, size=1, token_file=str(tokens), history=20, compact_interval=0.05) as c:
        yield c


@pytest.fixture(scope="module")
def channel(cluster: InProcessCluster) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(cluster.endpoints[0]) as ch:
        yield ch


def create_vpcs(channel: grpc.Channel, token: str, n: int, prefix: str) -> list[res.Vpc]:
    stub = network_pb2_grpc.NetworkServiceStub(channel)
    project = "p0" if token == "admin-token" else ""  # an admin names the project it creates in
    return [stub.CreateVpc(net.CreateVpcRequest(project_id=project, name=f"{prefix}{i}", cidr="10.0.0.0/16"),
                           metadata=md(token), timeout=10).vpc for i in range(n)]


def collect(channel: grpc.Channel, token: str, request: watch_pb2.WatchRequest, until: int,
            timeout: float = 10.0) -> tuple[list[watch_pb2.Event], list[watch_pb2.WatchResponse]]:
    """Events until the stream reports revision `until` (in an event or a progress header)."""
    stream = watch_pb2_grpc.WatchServiceStub(channel).Watch(request, metadata=md(token), timeout=timeout)
    events: list[watch_pb2.Event] = []
    responses = []
    for r in stream:
        responses.append(r)
        events.extend(r.events)
        if r.header.revision >= until:
            stream.cancel()
            break
    return events, responses


def test_events_come_in_revision_order_with_filters_and_scoping(channel: grpc.Channel) -> None:
    start = create_vpcs(channel, "admin-token", 1, "mark")[0].revision + 1
    mine = create_vpcs(channel, "p1-token", 3, "p1-")
    theirs = create_vpcs(channel, "p2-token", 2, "p2-")
    last = theirs[-1].revision
    req = watch_pb2.WatchRequest(start_revision=start, kinds=[res.RESOURCE_KIND_VPC], progress_interval_ms=50)

    everything, _ = collect(channel, "admin-token", req, last)
    revisions = [e.revision for e in everything]
    assert revisions == sorted(revisions) and revisions[0] == start and revisions[-1] == last
    assert {e.resource.vpc.id for e in everything} >= {v.id for v in mine + theirs}
    assert all(e.kind == res.RESOURCE_KIND_VPC for e in everything)

    scoped, _ = collect(channel, "p1-token", req, last)
    assert [e.resource.vpc.id for e in scoped if e.resource.vpc.id] == [v.id for v in mine]
    assert {e.project_id for e in scoped} == {"p1"}


def test_resume_from_the_next_revision_misses_and_repeats_nothing(channel: grpc.Channel) -> None:
    vpcs = create_vpcs(channel, "admin-token", 6, "resume-")
    first, last = vpcs[0].revision, vpcs[-1].revision
    req = watch_pb2.WatchRequest(start_revision=first, kinds=[res.RESOURCE_KIND_VPC])
    part1, _ = collect(channel, "admin-token", req, vpcs[2].revision)
    resumed = watch_pb2.WatchRequest(start_revision=part1[-1].revision + 1, kinds=[res.RESOURCE_KIND_VPC])
    part2, _ = collect(channel, "admin-token", resumed, last)
    assert [e.resource.vpc.id for e in part1 + part2] == [v.id for v in vpcs]


def test_idle_watch_gets_progress_notifications(channel: grpc.Channel) -> None:
    now = create_vpcs(channel, "admin-token", 1, "idle-")[0].revision
    stream = watch_pb2_grpc.WatchServiceStub(channel).Watch(
        watch_pb2.WatchRequest(progress_interval_ms=50), metadata=md("admin-token"), timeout=10)
    first = next(iter(stream))
    stream.cancel()
    assert first.progress and not first.events and first.header.revision >= now


def test_watch_from_now_sees_only_later_changes(channel: grpc.Channel) -> None:
    stream = watch_pb2_grpc.WatchServiceStub(channel).Watch(
        watch_pb2.WatchRequest(kinds=[res.RESOURCE_KIND_VPC], progress_interval_ms=50),
        metadata=md("admin-token"), timeout=10)
    it = iter(stream)
    next(it)  # the stream is open (a progress notification)
    later = create_vpcs(channel, "admin-token", 1, "later-")[0]
    got = next(r for r in it if r.events)
    stream.cancel()
    assert [e.resource.vpc.id for e in got.events] == [later.id]


def test_a_compacted_start_revision_names_the_oldest_available(cluster: InProcessCluster,
                                                                channel: grpc.Channel) -> None:
    create_vpcs(channel, "admin-token", 40, "churn-")
    store = cluster.nodes["c1"].replica.store
    deadline = time.monotonic() + 10
    while store.compacted_revision <= 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    oldest = store.compacted_revision
    assert oldest > 1, "the compactor keeps only `history` revisions"
    stream = watch_pb2_grpc.WatchServiceStub(channel).Watch(
        watch_pb2.WatchRequest(start_revision=1), metadata=md("admin-token"), timeout=10)
    with pytest.raises(grpc.RpcError) as info:
        next(iter(stream))
    assert info.value.code() == grpc.StatusCode.OUT_OF_RANGE  # type: ignore[attr-defined]
    status = rpc_status.from_call(info.value)  # type: ignore[arg-type]
    assert status is not None
    ei = error_details_pb2.ErrorInfo()
    status.details[0].Unpack(ei)
    assert ei.reason == "REVISION_COMPACTED" and int(ei.metadata["oldest_revision"]) >= oldest


def test_a_project_token_cannot_watch_another_project(channel: grpc.Channel) -> None:
    stream = watch_pb2_grpc.WatchServiceStub(channel).Watch(
        watch_pb2.WatchRequest(project_id="p2"), metadata=md("p1-token"), timeout=10)
    with pytest.raises(grpc.RpcError) as info:
        next(iter(stream))
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED  # type: ignore[attr-defined]
