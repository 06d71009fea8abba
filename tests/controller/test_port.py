"""Port commands: address and MAC allocation, security groups, update, delete, bulk, status."""

from __future__ import annotations

import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from alcor.controller.schema import prefix
from alcor.controller.state.rangeset import RangeSet
from alcor.controller.state.testing import ADMIN, Harness, project
from alcor.internal import command_pb2 as E
from alcor.v1 import network_pb2 as net
from alcor.v1 import resources_pb2 as res


def ips(port: res.Port) -> list[str]:
    return [f.ip_address for f in port.fixed_ips]


def create(subnet_id: str, **kw) -> dict[str, net.CreatePortRequest]:
    return {"create_port": net.CreatePortRequest(subnet_id=subnet_id, **kw)}


def delete(port_id: str) -> dict[str, net.DeleteRequest]:
    return {"delete_port": net.DeleteRequest(id=port_id)}


def free_ranges(h: Harness, subnet_id: str) -> list[tuple[int, int]]:
    with h.store.read() as txn:
        return RangeSet(txn, h.store.schema.ip_free, prefix(subnet_id), 4).ranges()


def test_create_defaults(h: Harness) -> None:
    vpc, subnet = h.network()
    port = h.port(subnet.id, name="p", host_id="host-1", device_id="vm-1")
    assert (port.vpc_id, port.subnet_id, port.project_id) == (vpc.id, subnet.id, "p1")
    assert [(f.subnet_id, f.ip_address) for f in port.fixed_ips] == [(subnet.id, "10.0.1.2")]
    assert port.status == res.PORT_STATUS_DOWN
    assert (port.host_id, port.device_id, port.name) == ("host-1", "vm-1", "p")
    assert port.create_revision == port.revision == 3


def test_lowest_free_allocation_and_reuse(h: Harness) -> None:
    _, subnet = h.network()
    ports = [h.port(subnet.id) for _ in range(4)]
    assert [ips(p)[0] for p in ports] == ["10.0.1.2", "10.0.1.3", "10.0.1.4", "10.0.1.5"]
    h.ok(**delete(ports[1].id))
    assert ips(h.port(subnet.id)) == ["10.0.1.3"]
    assert ips(h.port(subnet.id)) == ["10.0.1.6"]


def test_release_merges_free_ranges(h: Harness) -> None:
    _, subnet = h.network(subnet_cidr="10.0.1.0/28")  # pool .2-.14
    ports = [h.port(subnet.id) for _ in range(5)]  # .2-.6
    base = int.from_bytes(bytes([10, 0, 1, 0]), "big")
    assert free_ranges(h, subnet.id) == [(base + 7, base + 14)]
    for p in (ports[1], ports[3], ports[2]):
        h.ok(**delete(p.id))
    assert free_ranges(h, subnet.id) == [(base + 3, base + 5), (base + 7, base + 14)]
    h.ok(**delete(ports[4].id))
    assert free_ranges(h, subnet.id) == [(base + 3, base + 14)]


def test_requested_address_splits_the_pool(h: Harness) -> None:
    _, subnet = h.network(subnet_cidr="10.0.1.0/28")
    port = h.port(subnet.id, fixed_ips=[res.FixedIp(ip_address="10.0.1.5")])
    assert ips(port) == ["10.0.1.5"]
    base = int.from_bytes(bytes([10, 0, 1, 0]), "big")
    assert free_ranges(h, subnet.id) == [(base + 2, base + 4), (base + 6, base + 14)]
    assert [ips(h.port(subnet.id))[0] for _ in range(4)] == ["10.0.1.2", "10.0.1.3", "10.0.1.4", "10.0.1.6"]
    h.ok(**delete(port.id))
    assert free_ranges(h, subnet.id)[0] == (base + 5, base + 5)


def test_requested_address_outside_the_pools_but_inside_the_cidr(h: Harness) -> None:
    vpc = h.vpc()
    subnet = h.subnet(vpc.id, allocation_pools=[res.IpRange(start="10.0.1.100", end="10.0.1.110")])
    before = free_ranges(h, subnet.id)
    port = h.port(subnet.id, fixed_ips=[res.FixedIp(ip_address="10.0.1.50")])
    assert ips(port) == ["10.0.1.50"]
    assert free_ranges(h, subnet.id) == before
    h.ok(**delete(port.id))
    assert free_ranges(h, subnet.id) == before  # never enters the pool


@pytest.mark.parametrize(
    ("ip", "reason"),
    [
        ("10.0.2.5", "IP_OUTSIDE_SUBNET"),
        ("10.0.1.0", "IP_RESERVED"),
        ("10.0.1.255", "IP_RESERVED"),
        ("10.0.1.1", "IP_IS_GATEWAY"),
        ("10.0.1.300", "INVALID_IP_ADDRESS"),
        ("fd00::5", "INVALID_IP_ADDRESS"),
        ("10.0.1.05", "INVALID_IP_ADDRESS"),
    ],
)
def test_bad_requested_address(h: Harness, refused, ip: str, reason: str) -> None:
    _, subnet = h.network()
    error = refused(
        E.ERROR_CODE_INVALID_ARGUMENT, **create(subnet.id, fixed_ips=[res.FixedIp(ip_address=ip)])
    )
    assert error.reason == reason
    assert error.field_violations[0].field == "fixed_ips[0].ip_address"


def test_duplicate_address(h: Harness, refused) -> None:
    _, subnet = h.network()
    first = h.port(subnet.id)
    error = refused(
        E.ERROR_CODE_ALREADY_EXISTS, **create(subnet.id, fixed_ips=[res.FixedIp(ip_address=ips(first)[0])])
    )
    assert error.reason == "IP_IN_USE"
    twice = [res.FixedIp(ip_address="10.0.1.9"), res.FixedIp(ip_address="10.0.1.9")]
    refused(E.ERROR_CODE_ALREADY_EXISTS, **create(subnet.id, fixed_ips=twice))


def test_exhausted_pool(h: Harness, refused) -> None:
    _, subnet = h.network(subnet_cidr="10.0.1.0/30")  # one address: .2
    h.port(subnet.id)
    error = refused(E.ERROR_CODE_RESOURCE_EXHAUSTED, **create(subnet.id))
    assert error.reason == "POOL_EXHAUSTED"


def test_several_addresses_across_subnets_of_the_vpc(h: Harness) -> None:
    vpc, first = h.network()
    second = h.subnet(vpc.id, "10.0.2.0/24")
    port = h.port(
        first.id,
        fixed_ips=[
            res.FixedIp(),
            res.FixedIp(subnet_id=second.id),
            res.FixedIp(subnet_id=second.id, ip_address="10.0.2.77"),
        ],
    )
    assert [(f.subnet_id, f.ip_address) for f in port.fixed_ips] == [
        (first.id, "10.0.1.2"),
        (second.id, "10.0.2.2"),
        (second.id, "10.0.2.77"),
    ]
    h.ok(**delete(port.id))
    assert ips(h.port(second.id)) == ["10.0.2.2"]


def test_address_subnet_must_be_in_the_ports_vpc(h: Harness, refused) -> None:
    _, subnet = h.network()
    _, elsewhere = h.network()
    error = refused(
        E.ERROR_CODE_INVALID_ARGUMENT, **create(subnet.id, fixed_ips=[res.FixedIp(subnet_id=elsewhere.id)])
    )
    assert error.reason == "SUBNET_IN_OTHER_VPC"


def test_admin_creates_ports_in_the_subnets_project(h: Harness, refused) -> None:
    p2 = project("p2")
    subnet = h.subnet(h.vpc(caller=p2).id, caller=p2)
    port = h.port(subnet.id, caller=ADMIN)
    assert port.project_id == "p2"
    assert h.port(subnet.id, caller=ADMIN, project_id="p2").project_id == "p2"
    refused(E.ERROR_CODE_NOT_FOUND, caller=ADMIN, **create(subnet.id, project_id="p1"))


def test_unknown_and_foreign_subnets(h: Harness, refused) -> None:
    _, foreign = h.network()
    refused(E.ERROR_CODE_NOT_FOUND, **create("subnet-nope"))
    refused(E.ERROR_CODE_NOT_FOUND, caller=project("p2"), **create(foreign.id))
    _, mine = h.network()
    refused(E.ERROR_CODE_NOT_FOUND, **create(mine.id, fixed_ips=[res.FixedIp(subnet_id="subnet-nope")]))
    refused(E.ERROR_CODE_INVALID_ARGUMENT, **create(""))


def test_mac_allocation_is_locally_administered_unicast_and_unique(h: Harness) -> None:
    _, subnet = h.network()
    macs = [h.port(subnet.id).mac_address for _ in range(3)]
    assert macs == ["02:00:00:00:00:01", "02:00:00:00:00:02", "02:00:00:00:00:03"]
    for mac in macs:
        first = int(mac.split(":")[0], 16)
        assert first & 0x02 and not first & 0x01


def test_freed_mac_is_not_reused_before_the_space_wraps(h: Harness) -> None:
    _, subnet = h.network()
    port = h.port(subnet.id)
    h.ok(**delete(port.id))
    assert h.port(subnet.id).mac_address == "02:00:00:00:00:02"


def test_requested_mac(h: Harness, refused) -> None:
    _, subnet = h.network()
    assert h.port(subnet.id, mac_address="FA:16:3E:00:00:01").mac_address == "fa:16:3e:00:00:01"
    # inside the managed space: the allocator skips it
    assert h.port(subnet.id, mac_address="02:00:00:00:00:02").mac_address == "02:00:00:00:00:02"
    assert h.port(subnet.id).mac_address == "02:00:00:00:00:01"
    assert h.port(subnet.id).mac_address == "02:00:00:00:00:03"
    assert refused(
        E.ERROR_CODE_ALREADY_EXISTS, **create(subnet.id, mac_address="fa:16:3e:00:00:01")
    ).reason == ("MAC_IN_USE")
    refused(E.ERROR_CODE_ALREADY_EXISTS, **create(subnet.id, mac_address="02:00:00:00:00:03"))
    for bad in (
        "01:00:5e:00:00:01",
        "ff:ff:ff:ff:ff:ff",
        "00:00:00:00:00:00",
        "02:00:00:00:00",
        "02-00-00-00-00-09",
    ):
        refused(E.ERROR_CODE_INVALID_ARGUMENT, **create(subnet.id, mac_address=bad))


def test_default_security_group_created_on_first_use(h: Harness) -> None:
    _, subnet = h.network()
    port = h.port(subnet.id)
    [group_id] = port.security_group_ids
    again = h.port(subnet.id)
    assert list(again.security_group_ids) == [group_id]
    from alcor.controller.state.reads import get_security_group

    with h.store.read() as txn:
        group = get_security_group(h.store.schema, txn, h.caller, group_id)
    assert group.name == "default" and group.project_id == "p1"
    rules = {
        (r.direction, r.ethertype, r.protocol, r.remote_group_id, r.remote_ip_prefix) for r in group.rules
    }
    assert rules == {
        (res.DIRECTION_INGRESS, res.ETHERTYPE_IPV4, res.PROTOCOL_ANY, group_id, ""),
        (res.DIRECTION_INGRESS, res.ETHERTYPE_IPV6, res.PROTOCOL_ANY, group_id, ""),
        (res.DIRECTION_EGRESS, res.ETHERTYPE_IPV4, res.PROTOCOL_ANY, "", ""),
        (res.DIRECTION_EGRESS, res.ETHERTYPE_IPV6, res.PROTOCOL_ANY, "", ""),
    }
    # other projects get their own
    p2 = project("p2")
    other = h.port(h.subnet(h.vpc(caller=p2).id, caller=p2).id, caller=p2)
    assert other.security_group_ids[0] != group_id


def test_explicit_security_groups(h: Harness, refused) -> None:
    _, subnet = h.network()
    web, db = h.security_group("web"), h.security_group("db")
    port = h.port(subnet.id, security_group_ids=[web.id, db.id])
    assert list(port.security_group_ids) == [web.id, db.id]
    refused(E.ERROR_CODE_NOT_FOUND, **create(subnet.id, security_group_ids=["sg-nope"]))
    refused(E.ERROR_CODE_INVALID_ARGUMENT, **create(subnet.id, security_group_ids=[web.id, web.id]))
    theirs = h.security_group("x", caller=project("p2"))
    error = refused(E.ERROR_CODE_NOT_FOUND, **create(subnet.id, security_group_ids=[theirs.id]))
    assert error.field_violations[0].field == "security_group_ids[0]"


@pytest.mark.parametrize(
    "kw",
    [
        {"name": "n" * 256},
        {"device_id": "d" * 256},
        {"host_id": "bad host"},
        {"host_id": "h" * 254},
        {"fixed_ips": [res.FixedIp()] * 17},
    ],
)
def test_bad_port_fields(h: Harness, refused, kw) -> None:
    _, subnet = h.network()
    refused(E.ERROR_CODE_INVALID_ARGUMENT, **create(subnet.id, **kw))


def update(port: res.Port, paths: list[str]) -> dict[str, net.UpdatePortRequest]:
    return {"update_port": net.UpdatePortRequest(port=port, update_mask=FieldMask(paths=paths))}


def test_update(h: Harness, refused) -> None:
    _, subnet = h.network()
    port = h.port(subnet.id, host_id="h1")
    group = h.security_group("web")
    result = h.ok(
        **update(
            res.Port(
                id=port.id, name="renamed", device_id="vm", security_group_ids=[group.id], mac_address="x"
            ),
            ["name", "device_id", "security_group_ids"],
        )
    )
    updated = result.resource.port
    assert (updated.name, updated.device_id, list(updated.security_group_ids)) == (
        "renamed",
        "vm",
        [group.id],
    )
    assert updated.mac_address == port.mac_address and updated.host_id == "h1"
    # the old default group is no longer in use, the new one is
    default = port.security_group_ids[0]
    h.ok(delete_security_group=net.DeleteRequest(id=default))
    refused(E.ERROR_CODE_FAILED_PRECONDITION, delete_security_group=net.DeleteRequest(id=group.id))
    for paths in (["mac_address"], ["fixed_ips"], ["status"], ["subnet_id"]):
        refused(E.ERROR_CODE_INVALID_ARGUMENT, **update(res.Port(id=port.id), paths))
    refused(
        E.ERROR_CODE_NOT_FOUND,
        **update(res.Port(id=port.id, security_group_ids=["sg-x"]), ["security_group_ids"]),
    )


def test_update_to_no_security_groups(h: Harness) -> None:
    _, subnet = h.network()
    port = h.port(subnet.id)
    updated = h.ok(**update(res.Port(id=port.id), ["security_group_ids"])).resource.port
    assert list(updated.security_group_ids) == []


def status(
    port: res.Port, value: int, host: str | None = None, revision: int | None = None, detail: str = ""
):
    return E.PortStatusUpdate(
        port_id=port.id,
        status=value,
        status_detail=detail,
        host_id=port.host_id if host is None else host,
        port_revision=port.revision if revision is None else revision,
    )


def report(h: Harness, *updates: E.PortStatusUpdate) -> E.Result:
    return h.ok(caller=ADMIN, request_id="", update_port_statuses=E.UpdatePortStatuses(updates=list(updates)))


def get(h: Harness, port_id: str) -> res.Port:
    from alcor.controller.state.reads import get_port

    with h.store.read() as txn:
        return get_port(h.store.schema, txn, ADMIN, port_id)


def test_status_reports(h: Harness) -> None:
    _, subnet = h.network()
    port = h.port(subnet.id, host_id="h1")
    result = report(h, status(port, res.PORT_STATUS_ACTIVE))
    assert result.done and result.revision == port.revision + 1
    active = get(h, port.id)
    assert active.status == res.PORT_STATUS_ACTIVE and active.revision == result.revision
    # the agent reports again about the same configuration (revision it programmed): accepted
    report(h, status(port, res.PORT_STATUS_ERROR, detail="map full"))
    assert (get(h, port.id).status, get(h, port.id).status_detail) == (res.PORT_STATUS_ERROR, "map full")


def test_status_report_that_changes_nothing_does_not_bump(h: Harness) -> None:
    _, subnet = h.network()
    port = h.port(subnet.id, host_id="h1")
    report(h, status(port, res.PORT_STATUS_ACTIVE))
    revision = h.store.revision
    assert report(h, status(port, res.PORT_STATUS_ACTIVE)).revision == revision
    assert h.store.revision == revision


def test_stale_status_reports_are_ignored(h: Harness) -> None:
    _, subnet = h.network()
    port = h.port(subnet.id, host_id="h1")
    state = h.store.state_hash()
    report(
        h,
        status(port, res.PORT_STATUS_ACTIVE, host="h2"),  # another host
        status(port, res.PORT_STATUS_ACTIVE, revision=port.revision - 1),  # before the last config change
        E.PortStatusUpdate(port_id="port-gone", status=res.PORT_STATUS_ACTIVE, host_id="h1"),
        E.PortStatusUpdate(port_id="x" * 600, status=res.PORT_STATUS_ACTIVE, host_id="h1"),
    )
    assert h.store.state_hash() == state
    # a config change after the report's revision makes it stale
    moved = h.ok(**update(res.Port(id=port.id, host_id="h2"), ["host_id"])).resource.port
    assert moved.status == res.PORT_STATUS_DOWN
    report(h, status(port, res.PORT_STATUS_ACTIVE, host="h2"))  # revision of the old config
    assert get(h, port.id).status == res.PORT_STATUS_DOWN
    report(h, status(moved, res.PORT_STATUS_ACTIVE))
    assert get(h, port.id).status == res.PORT_STATUS_ACTIVE


def test_host_change_resets_status(h: Harness) -> None:
    _, subnet = h.network()
    port = h.port(subnet.id, host_id="h1")
    report(h, status(port, res.PORT_STATUS_ERROR, detail="boom"))
    moved = h.ok(**update(res.Port(id=port.id, host_id="h2"), ["host_id"])).resource.port
    assert (moved.status, moved.status_detail) == (res.PORT_STATUS_DOWN, "")
    # renaming keeps the status
    report(h, status(moved, res.PORT_STATUS_ACTIVE))
    renamed = h.ok(**update(res.Port(id=port.id, name="x", host_id="h2"), ["name", "host_id"])).resource.port
    assert renamed.status == res.PORT_STATUS_ACTIVE


def test_bad_status_reports(h: Harness, refused) -> None:
    _, subnet = h.network()
    port = h.port(subnet.id, host_id="h1")
    for value in (res.PORT_STATUS_UNSPECIFIED, 99):
        refused(
            E.ERROR_CODE_INVALID_ARGUMENT,
            caller=ADMIN,
            update_port_statuses=E.UpdatePortStatuses(updates=[status(port, value)]),
        )
    refused(
        E.ERROR_CODE_INVALID_ARGUMENT,
        caller=ADMIN,
        update_port_statuses=E.UpdatePortStatuses(
            updates=[status(port, res.PORT_STATUS_ERROR, detail="x" * 1025)]
        ),
    )


def test_delete_frees_address_and_mac(h: Harness) -> None:
    _, subnet = h.network()
    port = h.port(subnet.id, mac_address="fa:16:3e:00:00:09", fixed_ips=[res.FixedIp(ip_address="10.0.1.9")])
    result = h.ok(**delete(port.id))
    assert result.done
    again = h.port(subnet.id, mac_address="fa:16:3e:00:00:09", fixed_ips=[res.FixedIp(ip_address="10.0.1.9")])
    assert ips(again) == ["10.0.1.9"]


def test_delete_unknown_or_foreign(h: Harness, refused) -> None:
    _, subnet = h.network()
    port = h.port(subnet.id)
    refused(E.ERROR_CODE_NOT_FOUND, **delete("port-nope"))
    refused(E.ERROR_CODE_NOT_FOUND, caller=project("p2"), **delete(port.id))


def bulk(*items: net.CreatePortRequest) -> dict[str, net.CreatePortsRequest]:
    return {"create_ports": net.CreatePortsRequest(ports=list(items))}


def test_bulk_create(h: Harness) -> None:
    _, subnet = h.network()
    result = h.ok(**bulk(*[net.CreatePortRequest(subnet_id=subnet.id, name=f"p{i}") for i in range(3)]))
    ports = [item.port for item in result.resources.items]
    assert [p.name for p in ports] == ["p0", "p1", "p2"]
    assert [ips(p)[0] for p in ports] == ["10.0.1.2", "10.0.1.3", "10.0.1.4"]
    assert {p.revision for p in ports} == {result.revision}
    assert len({p.id for p in ports}) == 3


def test_bulk_create_is_all_or_nothing(h: Harness, refused) -> None:
    _, subnet = h.network()
    taken = h.port(subnet.id)
    error = refused(
        E.ERROR_CODE_ALREADY_EXISTS,
        **bulk(
            net.CreatePortRequest(subnet_id=subnet.id),
            net.CreatePortRequest(subnet_id=subnet.id),
            net.CreatePortRequest(subnet_id=subnet.id, fixed_ips=[res.FixedIp(ip_address=ips(taken)[0])]),
        ),
    )
    assert error.field_violations[0].field == "ports[2].fixed_ips[0].ip_address"
    assert ips(h.port(subnet.id)) == ["10.0.1.3"]


def test_bulk_create_refusals(h: Harness, refused) -> None:
    _, subnet = h.network()
    refused(E.ERROR_CODE_INVALID_ARGUMENT, **bulk())
    refused(
        E.ERROR_CODE_INVALID_ARGUMENT, **bulk(net.CreatePortRequest(subnet_id=subnet.id, request_id="inner"))
    )
    refused(E.ERROR_CODE_INVALID_ARGUMENT, **bulk(*[net.CreatePortRequest(subnet_id=subnet.id)] * 1001))


def test_bulk_create_creates_the_default_group_once(h: Harness) -> None:
    _, subnet = h.network()
    result = h.ok(**bulk(*[net.CreatePortRequest(subnet_id=subnet.id)] * 2))
    groups = {tuple(item.port.security_group_ids) for item in result.resources.items}
    assert len(groups) == 1


def test_bulk_claims_see_the_addresses_handed_out_before_them(h: Harness) -> None:
    """In a bulk create the allocators hold their state in memory (ipam.py): a requested address
    or MAC right after the ones handed out must still be checked against them."""
    _, subnet = h.network()
    auto = net.CreatePortRequest(subnet_id=subnet.id)
    result = h.ok(
        **bulk(
            auto,
            auto,
            net.CreatePortRequest(subnet_id=subnet.id, fixed_ips=[res.FixedIp(ip_address="10.0.1.4")]),
            net.CreatePortRequest(subnet_id=subnet.id, mac_address="02:00:00:00:00:04"),
            auto,
        )
    )
    ports = [item.port for item in result.resources.items]
    assert [ips(p)[0] for p in ports] == ["10.0.1.2", "10.0.1.3", "10.0.1.4", "10.0.1.5", "10.0.1.6"]
    assert [p.mac_address for p in ports] == [
        "02:00:00:00:00:01",
        "02:00:00:00:00:02",
        "02:00:00:00:00:03",
        "02:00:00:00:00:04",
        "02:00:00:00:00:05",
    ]
    base = int.from_bytes(bytes([10, 0, 1, 0]), "big")
    assert free_ranges(h, subnet.id) == [(base + 7, base + 254)]
    # the held state was written back: the next command continues where the bulk stopped
    assert ips(h.port(subnet.id)) == ["10.0.1.7"]
    assert h.port(subnet.id).mac_address == "02:00:00:00:00:07"


def test_bulk_create_writes_the_same_state_as_single_creates(h: Harness, make_store) -> None:
    """A bulk create and the same ports created one by one leave the same allocator tables and
    indexes (ids and revisions differ, so records are compared without them)."""
    singles = Harness(make_store("singles"))
    subnet = h.network(subnet_cidr="10.0.1.0/26")[1]
    assert singles.network(subnet_cidr="10.0.1.0/26")[1].id == subnet.id  # the same log, the same ids
    items = [net.CreatePortRequest(subnet_id=subnet.id, host_id=f"h{i % 3}", name=f"p{i}") for i in range(40)]
    h.ok(**bulk(*items))
    for item in items:
        singles.ok(create_port=item)

    def allocators(store) -> dict[str, list[tuple[bytes, bytes]]]:
        s = store.schema
        with store.read() as txn:
            tables = {name: list(txn.cursor(db=s.table(name))) for name in ("ip_free", "mac_free")}
            tables["cursor"] = [(b"", txn.get(b"mac_cursor", db=s.meta))]
            tables["macs"] = [(k, b"") for k, _ in txn.cursor(db=s.mac_allocations)]
            tables["ips"] = [(k, v[:1]) for k, v in txn.cursor(db=s.ip_allocations)]
            return tables

    assert allocators(h.store) == allocators(singles.store)
    with h.store.read() as a, singles.store.read() as b:
        for table in ("ports", "ports_by_host", "ports_by_subnet", "ports_by_vpc", "ports_by_project"):
            assert a.stat(h.store.schema.table(table))["entries"] == 40
            assert b.stat(singles.store.schema.table(table))["entries"] == 40
