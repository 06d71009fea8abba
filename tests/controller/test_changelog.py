"""The change log: events per change, order, compaction, and the compacted-read error."""

from __future__ import annotations

import pytest

from alcor.controller.state import CommandError, events_since, grpc_code
from alcor.controller.state.changelog import oldest_revision
from alcor.controller.state.testing import ADMIN, Harness
from alcor.internal import command_pb2 as E
from alcor.v1 import network_pb2 as net
from alcor.v1 import resources_pb2 as res
from alcor.v1 import watch_pb2 as watch


def events(h: Harness, since: int = 0, **kw) -> list[watch.Event]:
    with h.store.read() as txn:
        return list(events_since(h.store.schema, txn, since, **kw))


def compact(h: Harness, revision: int) -> E.Result:
    return h.run(caller=ADMIN, request_id="", compact=E.Compact(revision=revision))


def test_every_change_appends_events(h: Harness) -> None:
    vpc, subnet = h.network()
    port = h.port(subnet.id)
    h.run(create_vpc=net.CreateVpcRequest(cidr="bad"))  # refused: no event
    got = [(e.revision, e.type, e.kind, e.project_id) for e in events(h)]
    assert got == [
        (1, watch.EVENT_TYPE_CREATED, res.RESOURCE_KIND_VPC, "p1"),
        (2, watch.EVENT_TYPE_CREATED, res.RESOURCE_KIND_SUBNET, "p1"),
        # the port's command also created the project's default group: same revision, in order
        (3, watch.EVENT_TYPE_CREATED, res.RESOURCE_KIND_SECURITY_GROUP, "p1"),
        (3, watch.EVENT_TYPE_CREATED, res.RESOURCE_KIND_PORT, "p1"),
    ]
    assert events(h)[0].resource.vpc == vpc
    assert events(h)[3].resource.port == port


def test_events_are_stored_in_deterministic_protobuf_encoding(h: Harness) -> None:
    """Events are assembled from the record's bytes (context.py); they must equal what
    protobuf's own deterministic serialization gives, for every kind and event type."""
    _, subnet = h.network()
    port = h.port(subnet.id, host_id="h1")
    h.ok(delete_port=net.DeleteRequest(id=port.id))
    h.ok(caller=ADMIN, request_id="", register_node=E.RegisterNode(host_id="h1", underlay_ip="192.0.2.1"))
    with h.store.read() as txn:
        stored = [bytes(v) for v in txn.cursor(db=h.store.schema.changelog).iternext(keys=False)]
    assert len(stored) == 6
    for data in stored:
        assert watch.Event.FromString(data).SerializeToString(deterministic=True) == data


def test_filters(h: Harness) -> None:
    h.network()
    h.vpc(caller=E.Caller(project_id="p2"))
    assert [e.kind for e in events(h, kinds=[res.RESOURCE_KIND_SUBNET])] == [res.RESOURCE_KIND_SUBNET]
    assert [e.revision for e in events(h, project_id="p2")] == [3]
    assert [e.revision for e in events(h, 2)] == [2, 3]


def test_compaction(h: Harness) -> None:
    for _ in range(4):
        h.vpc()
    replay = h.command(create_vpc=net.CreateVpcRequest(cidr="10.9.0.0/16"))
    first = h.apply(replay)  # revision 5, request recorded at 5
    result = compact(h, 3)
    assert result.done and result.revision == 5  # compaction is not a state change
    assert h.store.compacted_revision == 3
    assert [e.revision for e in events(h, 3)] == [3, 4, 5]
    with h.store.read() as txn:
        assert oldest_revision(h.store.schema, txn) == 3
    with pytest.raises(CommandError) as e:
        events(h, 2)
    assert e.value.code == E.ERROR_CODE_OUT_OF_RANGE
    assert e.value.reason == "REVISION_COMPACTED"
    assert e.value.error.metadata["oldest_revision"] == "3"
    assert grpc_code(e.value.error).name == "OUT_OF_RANGE"
    # request records at revision >= 3 survive: the replay still returns the first result
    assert h.apply(replay) == first


def test_compaction_drops_old_request_records(h: Harness) -> None:
    old = h.command(create_vpc=net.CreateVpcRequest(cidr="10.0.0.0/16"))
    h.apply(old)  # recorded at revision 1
    h.vpc()
    compact(h, 2)
    again = h.apply(old)  # the record is gone: the request runs again
    assert again.revision == 3 and again.resource.vpc.vni == 3


def test_compaction_bounds(h: Harness) -> None:
    h.vpc()
    error = compact(h, 5).error
    assert error.code == E.ERROR_CODE_OUT_OF_RANGE and error.reason == "FUTURE_REVISION"
    assert compact(h, 1).done
    before = h.store.content_hash(include_bookkeeping=False)
    assert compact(h, 1).done  # already compacted: nothing to do
    assert compact(h, 0).done
    assert h.store.content_hash(include_bookkeeping=False) == before


def test_events_since_is_lazy_but_checks_eagerly(h: Harness) -> None:
    h.vpc()
    h.vpc()
    compact(h, 2)
    with h.store.read() as txn:
        with pytest.raises(CommandError):
            events_since(h.store.schema, txn, 1)  # raises at call time, not on first next()
        assert next(events_since(h.store.schema, txn, 2)).revision == 2
