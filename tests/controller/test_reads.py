"""Reads: scoping, filters, pagination, and the error helpers servicers use."""

from __future__ import annotations

import threading
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2

from alcor.controller.api.errors import status_of
from alcor.controller.state import (
    CommandError,
    Store,
    StoreClosed,
    StoreConfig,
    changelog,
    grpc_code,
    to_status,
)
from alcor.controller.state import reads as R
from alcor.controller.state.testing import ADMIN, Harness, project
from alcor.internal import command_pb2 as E
from alcor.v1 import network_pb2 as net
from alcor.v1 import resources_pb2 as res


@pytest.fixture
def world(h: Harness) -> dict[str, list]:
    """p1: two VPCs with a subnet each and ports on two hosts; p2: one VPC and port."""
    out: dict[str, list] = {"vpcs": [], "subnets": [], "ports": []}
    for cidr in ("10.0.0.0/16", "10.1.0.0/16"):
        vpc = h.vpc(cidr, name="a")
        subnet = h.subnet(vpc.id, cidr.replace("0.0/16", "1.0/24"))
        out["vpcs"].append(vpc)
        out["subnets"].append(subnet)
        for host in ("h1", "h2", "h1"):
            out["ports"].append(h.port(subnet.id, host_id=host, device_id=f"vm-{host}", name="n"))
    p2 = project("p2")
    theirs = h.subnet(h.vpc(caller=p2).id, caller=p2)
    out["foreign"] = [h.port(theirs.id, caller=p2, host_id="h1")]
    return out


def ids(items) -> list[str]:
    return [i.id for i in items]


def test_get_is_scoped(h: Harness, world) -> None:
    s = h.store.schema
    foreign = world["foreign"][0]
    with h.store.read() as txn:
        assert R.get_port(s, txn, h.caller, world["ports"][0].id) == world["ports"][0]
        assert R.get_port(s, txn, ADMIN, foreign.id) == foreign
        with pytest.raises(CommandError) as e:
            R.get_port(s, txn, h.caller, foreign.id)
        assert e.value.code == E.ERROR_CODE_NOT_FOUND
        with pytest.raises(CommandError):
            R.get_vpc(s, txn, h.caller, "vpc-nope")
        assert R.get_subnet(s, txn, h.caller, world["subnets"][0].id) == world["subnets"][0]


def test_lists_are_scoped(h: Harness, world) -> None:
    s = h.store.schema
    with h.store.read() as txn:
        assert ids(R.list_ports(s, txn, h.caller).items) == ids(world["ports"])
        assert len(R.list_ports(s, txn, ADMIN).items) == 7
        assert ids(R.list_ports(s, txn, ADMIN, project_id="p2").items) == ids(world["foreign"])
        assert ids(R.list_vpcs(s, txn, h.caller).items) == ids(world["vpcs"])
        assert len(R.list_security_groups(s, txn, ADMIN).items) == 2
        with pytest.raises(CommandError) as e:
            R.list_ports(s, txn, h.caller, project_id="p2")
        assert e.value.code == E.ERROR_CODE_PERMISSION_DENIED


def test_port_filters(h: Harness, world) -> None:
    s = h.store.schema
    ports = world["ports"]
    with h.store.read() as txn:
        assert ids(R.list_ports(s, txn, h.caller, host_id="h1").items) == ids(
            [ports[0], ports[2], ports[3], ports[5]]
        )
        assert ids(R.list_ports(s, txn, ADMIN, host_id="h1").items)[-1] == world["foreign"][0].id
        assert ids(R.list_ports(s, txn, h.caller, subnet_id=world["subnets"][1].id).items) == ids(ports[3:])
        assert ids(R.list_ports(s, txn, h.caller, vpc_id=world["vpcs"][0].id, host_id="h2").items) == [
            ports[1].id
        ]
        assert ids(R.list_ports(s, txn, h.caller, device_id="vm-h2").items) == [ports[1].id, ports[4].id]
        assert R.list_ports(s, txn, h.caller, name="zzz").items == []
        assert R.list_ports(s, txn, h.caller, subnet_id="x" * 600).items == []
        # a project caller filtering by another project's subnet sees nothing
        assert R.list_ports(s, txn, h.caller, host_id="h1", vpc_id=world["foreign"][0].vpc_id).items == []


def test_subnet_and_group_filters(h: Harness, world) -> None:
    s = h.store.schema
    with h.store.read() as txn:
        assert ids(R.list_subnets(s, txn, h.caller, vpc_id=world["vpcs"][1].id).items) == [
            world["subnets"][1].id
        ]
        assert R.list_subnets(s, txn, h.caller, vpc_id=world["foreign"][0].vpc_id).items == []
        assert [g.name for g in R.list_security_groups(s, txn, h.caller, name="default").items] == ["default"]
        assert len(R.list_vpcs(s, txn, h.caller, name="a").items) == 2


def test_pagination(h: Harness, world) -> None:
    s = h.store.schema
    seen: list[str] = []
    token = ""
    with h.store.read() as txn:
        while True:
            page = R.list_ports(s, txn, ADMIN, page_size=3, page_token=token)
            seen += ids(page.items)
            token = page.next_page_token
            if not token:
                break
            assert len(page.items) == 3
        assert seen == sorted(seen) and len(seen) == 7
        # filtered pages
        page = R.list_ports(s, txn, h.caller, host_id="h1", page_size=2)
        rest = R.list_ports(s, txn, h.caller, host_id="h1", page_size=2, page_token=page.next_page_token)
        assert ids(page.items + rest.items) == ids(R.list_ports(s, txn, h.caller, host_id="h1").items)
        assert rest.next_page_token == ""
        with pytest.raises(CommandError) as e:
            R.list_ports(s, txn, h.caller, page_token="!!!")
        assert e.value.code == E.ERROR_CODE_INVALID_ARGUMENT


def test_page_size_bounds(h: Harness) -> None:
    _, subnet = h.network(subnet_cidr="10.0.0.0/20")
    for _ in range(2):
        h.ok(create_ports=net.CreatePortsRequest(ports=[net.CreatePortRequest(subnet_id=subnet.id)] * 600))
    s = h.store.schema
    with h.store.read() as txn:
        assert len(R.list_ports(s, txn, h.caller).items) == R.DEFAULT_PAGE_SIZE
        assert len(R.list_ports(s, txn, h.caller, page_size=5000).items) == R.MAX_PAGE_SIZE


def test_iter_ports(h: Harness, world) -> None:
    s = h.store.schema
    with h.store.read() as txn:
        assert len(list(R.iter_ports(s, txn, host_id="h1"))) == 5
        assert len(list(R.iter_ports(s, txn, vpc_id=world["vpcs"][0].id))) == 3
        group = world["ports"][0].security_group_ids[0]
        assert len(list(R.iter_ports(s, txn, security_group_id=group))) == 6


def test_revision_and_applied_index(h: Harness, world) -> None:
    with h.store.read() as txn:
        assert R.current_revision(h.store.schema, txn) == h.store.revision
        assert R.applied_index(h.store.schema, txn) == h.index


def test_error_to_grpc_status(h: Harness) -> None:
    result = h.run(create_vpc=net.CreateVpcRequest(cidr="10.0.0.1/8"))
    assert grpc_code(result.error) == grpc.StatusCode.INVALID_ARGUMENT
    status = to_status(result.error)
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    info, bad = error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest()
    assert status.details[0].Unpack(info) and info.reason == "CIDR_HOST_BITS_SET"
    assert status.details[1].Unpack(bad) and bad.field_violations[0].field == "cidr"
    for code, name in [
        (E.ERROR_CODE_NOT_FOUND, "NOT_FOUND"),
        (E.ERROR_CODE_ALREADY_EXISTS, "ALREADY_EXISTS"),
        (E.ERROR_CODE_FAILED_PRECONDITION, "FAILED_PRECONDITION"),
        (E.ERROR_CODE_RESOURCE_EXHAUSTED, "RESOURCE_EXHAUSTED"),
        (E.ERROR_CODE_PERMISSION_DENIED, "PERMISSION_DENIED"),
        (E.ERROR_CODE_OUT_OF_RANGE, "OUT_OF_RANGE"),
    ]:
        assert grpc_code(E.Error(code=code)).name == name
        assert grpc_code(E.Error(code=code)).value[0] == code


def test_foreign_port_update_is_not_found(h: Harness, world) -> None:
    from google.protobuf.field_mask_pb2 import FieldMask

    request = net.UpdatePortRequest(
        port=res.Port(id=world["foreign"][0].id, name="x"), update_mask=FieldMask(paths=["name"])
    )
    assert h.run(update_port=request).error.code == E.ERROR_CODE_NOT_FOUND


def test_close_waits_for_reads_in_progress_and_later_reads_are_refused(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "state"), StoreConfig(sync=False))
    inside, leave = threading.Event(), threading.Event()
    seen: list[int] = []

    def reader() -> None:
        with store.read() as txn:
            inside.set()
            leave.wait(10)
            seen.append(changelog.current_revision(store.schema, txn))  # still usable

    thread = threading.Thread(target=reader)
    thread.start()
    assert inside.wait(10)
    closer = threading.Thread(target=store.close)
    closer.start()
    closer.join(0.2)
    assert closer.is_alive(), "close() returned while a read was in progress"
    leave.set()
    closer.join(10)
    thread.join(10)
    assert not closer.is_alive() and seen == [0]
    with pytest.raises(StoreClosed, match="closed"), store.read():
        pass
    status = status_of(StoreClosed("replaced"))  # what a servicer answers: retry, it is transient
    assert status is not None and status.code == grpc.StatusCode.UNAVAILABLE
