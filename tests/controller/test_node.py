"""Nodes: admin-only writes, registration upsert, update, delete while ports are bound."""

from __future__ import annotations

import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from alcor.controller.state.reads import get_node, list_nodes
from alcor.controller.state.testing import ADMIN, Harness
from alcor.internal import command_pb2 as E
from alcor.v1 import network_pb2 as net
from alcor.v1 import resources_pb2 as res
from alcor.v1 import watch_pb2 as watch


def create(host_id: str = "h1", underlay_ip: str = "192.0.2.1", **kw) -> dict[str, net.CreateNodeRequest]:
    return {"create_node": net.CreateNodeRequest(host_id=host_id, underlay_ip=underlay_ip, **kw)}


def register(host_id: str = "h1", ip: str = "192.0.2.1", version: str = "1.0", seen: int = 1000):
    return {
        "register_node": E.RegisterNode(
            host_id=host_id, underlay_ip=ip, agent_version=version, last_seen_unix_ms=seen
        )
    }


def test_create_is_admin_only(h: Harness, refused) -> None:
    refused(E.ERROR_CODE_PERMISSION_DENIED, **create())
    node = h.ok(caller=ADMIN, **create(name="rack1")).resource.node
    assert (node.host_id, node.name, node.underlay_ip, node.revision) == ("h1", "rack1", "192.0.2.1", 1)
    refused(E.ERROR_CODE_ALREADY_EXISTS, caller=ADMIN, **create())


@pytest.mark.parametrize(
    "kw",
    [
        {"host_id": ""},
        {"host_id": "bad host"},
        {"underlay_ip": ""},
        {"underlay_ip": "0.0.0.0"},
        {"underlay_ip": "224.0.0.1"},
        {"underlay_ip": "255.255.255.255"},
        {"underlay_ip": "fd00::1"},
        {"underlay_ip": "10.0.0"},
        {"name": "n" * 256},
    ],
)
def test_bad_node_fields(refused, kw) -> None:
    refused(E.ERROR_CODE_INVALID_ARGUMENT, caller=ADMIN, **create(**kw))


def test_register_creates_then_refreshes(h: Harness) -> None:
    created = h.ok(caller=ADMIN, request_id="", **register()).resource.node
    assert (created.host_id, created.agent_version, created.last_seen_unix_ms) == ("h1", "1.0", 1000)
    refreshed = h.ok(
        caller=ADMIN, request_id="", **register(ip="192.0.2.9", version="1.1", seen=2000)
    ).resource.node
    assert (refreshed.underlay_ip, refreshed.agent_version, refreshed.last_seen_unix_ms) == (
        "192.0.2.9",
        "1.1",
        2000,
    )
    assert refreshed.create_revision == created.revision == 1 and refreshed.revision == 2
    from alcor.controller.state.changelog import events_since

    with h.store.read() as txn:
        types = [e.type for e in events_since(h.store.schema, txn, 0)]
    assert types == [watch.EVENT_TYPE_CREATED, watch.EVENT_TYPE_UPDATED]


def test_register_validates(refused) -> None:
    refused(E.ERROR_CODE_INVALID_ARGUMENT, caller=ADMIN, **register(ip="nope"))
    refused(E.ERROR_CODE_INVALID_ARGUMENT, caller=ADMIN, **register(seen=-1))


def test_update(h: Harness, refused) -> None:
    h.ok(caller=ADMIN, **create())
    request = net.UpdateNodeRequest(
        node=res.Node(host_id="h1", name="n", underlay_ip="192.0.2.2", agent_version="x"),
        update_mask=FieldMask(paths=["name", "underlay_ip"]),
    )
    node = h.ok(caller=ADMIN, update_node=request).resource.node
    assert (node.name, node.underlay_ip, node.agent_version) == ("n", "192.0.2.2", "")
    refused(E.ERROR_CODE_PERMISSION_DENIED, update_node=request)
    bad_mask = net.UpdateNodeRequest(
        node=res.Node(host_id="h1"), update_mask=FieldMask(paths=["agent_version"])
    )
    refused(E.ERROR_CODE_INVALID_ARGUMENT, caller=ADMIN, update_node=bad_mask)
    unknown = net.UpdateNodeRequest(
        node=res.Node(host_id="h9", name="x"), update_mask=FieldMask(paths=["name"])
    )
    refused(E.ERROR_CODE_NOT_FOUND, caller=ADMIN, update_node=unknown)


def test_delete_refused_while_ports_are_bound(h: Harness, refused) -> None:
    h.ok(caller=ADMIN, **create())
    _, subnet = h.network()
    port = h.port(subnet.id, host_id="h1")
    refused(E.ERROR_CODE_PERMISSION_DENIED, delete_node=net.DeleteRequest(id="h1"))
    error = refused(E.ERROR_CODE_FAILED_PRECONDITION, caller=ADMIN, delete_node=net.DeleteRequest(id="h1"))
    assert error.reason == "NODE_IN_USE"
    h.ok(
        update_port=net.UpdatePortRequest(port=res.Port(id=port.id), update_mask=FieldMask(paths=["host_id"]))
    )
    h.ok(caller=ADMIN, delete_node=net.DeleteRequest(id="h1"))
    refused(E.ERROR_CODE_NOT_FOUND, caller=ADMIN, delete_node=net.DeleteRequest(id="h1"))


def test_ports_may_bind_to_unregistered_hosts(h: Harness) -> None:
    _, subnet = h.network()
    assert h.port(subnet.id, host_id="not-yet").host_id == "not-yet"


def test_node_reads_are_admin_only(h: Harness) -> None:
    from alcor.controller.state.errors import CommandError

    h.ok(caller=ADMIN, **create())
    s = h.store.schema
    with h.store.read() as txn:
        assert get_node(s, txn, ADMIN, "h1").underlay_ip == "192.0.2.1"
        assert [n.host_id for n in list_nodes(s, txn, ADMIN).items] == ["h1"]
        with pytest.raises(CommandError) as e:
            list_nodes(s, txn, h.caller)
        assert e.value.code == E.ERROR_CODE_PERMISSION_DENIED
