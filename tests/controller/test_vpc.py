"""VPC commands: CIDR validation, VNI allocation, update masks, delete, project scoping."""

from __future__ import annotations

import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from alcor.controller.state import Store, StoreConfig
from alcor.controller.state.testing import ADMIN, Harness, project
from alcor.internal import command_pb2 as E
from alcor.v1 import network_pb2 as net
from alcor.v1 import resources_pb2 as res
from alcor.v1 import watch_pb2 as watch


def test_create(h: Harness) -> None:
    vpc = h.vpc("10.0.0.0/16", name="prod", description="d")
    assert vpc.id.startswith("vpc-")
    assert (vpc.project_id, vpc.name, vpc.description, vpc.cidr) == ("p1", "prod", "d", "10.0.0.0/16")
    assert vpc.status == res.VPC_STATUS_ACTIVE
    assert vpc.create_revision == vpc.revision == 1
    with h.store.read() as txn:
        from alcor.controller.state.reads import get_vpc

        assert get_vpc(h.store.schema, txn, h.caller, vpc.id) == vpc


@pytest.mark.parametrize(
    ("cidr", "reason"),
    [
        ("", "FIELD_REQUIRED"),
        ("10.0.0.0", "INVALID_CIDR"),  # no prefix length: not canonical
        ("10.0.0.0/33", "INVALID_CIDR"),
        ("10.0.0/16", "INVALID_CIDR"),
        ("300.0.0.0/8", "INVALID_CIDR"),
        ("010.0.0.0/8", "INVALID_CIDR"),
        ("10.0.0.0/255.255.0.0", "INVALID_CIDR"),
        ("banana", "INVALID_CIDR"),
        (" 10.0.0.0/16", "INVALID_CIDR"),
        ("10.0.0.1/16", "CIDR_HOST_BITS_SET"),
        ("fd00::/48", "IPV6_NOT_SUPPORTED"),
        ("10.0.0.0/31", "CIDR_TOO_SMALL"),
    ],
)
def test_bad_cidr(refused, cidr: str, reason: str) -> None:
    error = refused(E.ERROR_CODE_INVALID_ARGUMENT, create_vpc=net.CreateVpcRequest(cidr=cidr))
    assert error.reason == reason
    assert error.field_violations[0].field == "cidr"


def test_oversized_name_and_description(refused) -> None:
    refused(E.ERROR_CODE_INVALID_ARGUMENT, create_vpc=net.CreateVpcRequest(cidr="10.0.0.0/8", name="n" * 256))
    refused(
        E.ERROR_CODE_INVALID_ARGUMENT,
        create_vpc=net.CreateVpcRequest(cidr="10.0.0.0/8", description="d" * 256),
    )


def test_name_of_255_characters_is_fine(h: Harness) -> None:
    assert len(h.vpc(name="é" * 255).name) == 255


def test_vni_lowest_free_and_unique(h: Harness) -> None:
    vpcs = [h.vpc() for _ in range(4)]
    assert [v.vni for v in vpcs] == [1, 2, 3, 4]
    h.ok(delete_vpc=net.DeleteRequest(id=vpcs[1].id))
    assert h.vpc().vni == 2
    assert h.vpc().vni == 5


def test_vni_range_from_config_and_exhaustion(make_store, refused) -> None:
    store = make_store("small", StoreConfig(vni_range=(4096, 4097), sync=False))
    h = Harness(store)
    assert [h.vpc().vni, h.vpc().vni] == [4096, 4097]
    result = h.run(create_vpc=net.CreateVpcRequest(cidr="10.0.0.0/8"))
    assert result.error.code == E.ERROR_CODE_RESOURCE_EXHAUSTED
    assert result.error.reason == "VNI_EXHAUSTED"


def test_reopen_with_another_vni_range_is_refused(tmp_path) -> None:
    path = str(tmp_path / "s")
    Store(path, StoreConfig(vni_range=(10, 20))).close()
    with pytest.raises(ValueError, match="VNI range"):
        Store(path, StoreConfig(vni_range=(10, 30)))
    Store(path, StoreConfig(vni_range=(10, 20))).close()


def test_update_name_and_description(h: Harness) -> None:
    vpc = h.vpc(name="a")
    result = h.ok(
        update_vpc=net.UpdateVpcRequest(
            vpc=res.Vpc(id=vpc.id, name="b", description="new", cidr="9.9.9.0/24"),
            update_mask=FieldMask(paths=["name", "description"]),
        )
    )
    updated = result.resource.vpc
    assert (updated.name, updated.description, updated.cidr, updated.vni) == ("b", "new", vpc.cidr, vpc.vni)
    assert updated.create_revision == vpc.create_revision
    assert updated.revision == result.revision == 2


def test_update_only_masked_fields(h: Harness) -> None:
    vpc = h.vpc(name="a", description="keep")
    updated = h.ok(
        update_vpc=net.UpdateVpcRequest(
            vpc=res.Vpc(id=vpc.id, name="b"), update_mask=FieldMask(paths=["name"])
        )
    ).resource.vpc
    assert (updated.name, updated.description) == ("b", "keep")


@pytest.mark.parametrize("paths", [[], ["cidr"], ["vni"], ["name", "bogus"]])
def test_update_bad_mask(h: Harness, refused, paths: list[str]) -> None:
    vpc = h.vpc()
    error = refused(
        E.ERROR_CODE_INVALID_ARGUMENT,
        update_vpc=net.UpdateVpcRequest(vpc=res.Vpc(id=vpc.id, name="x"), update_mask=FieldMask(paths=paths)),
    )
    assert error.field_violations[0].field == "update_mask"


def test_update_unknown_vpc(refused) -> None:
    refused(
        E.ERROR_CODE_NOT_FOUND,
        update_vpc=net.UpdateVpcRequest(
            vpc=res.Vpc(id="vpc-nope", name="x"), update_mask=FieldMask(paths=["name"])
        ),
    )


def test_delete(h: Harness) -> None:
    vpc = h.vpc()
    result = h.ok(delete_vpc=net.DeleteRequest(id=vpc.id))
    assert result.done and result.revision == 2
    from alcor.controller.state.changelog import events_since

    with h.store.read() as txn:
        last = list(events_since(h.store.schema, txn, 2))
    assert [(e.type, e.resource.vpc.id) for e in last] == [(watch.EVENT_TYPE_DELETED, vpc.id)]


def test_delete_refused_while_subnets_exist(h: Harness, refused) -> None:
    vpc, subnet = h.network()
    error = refused(E.ERROR_CODE_FAILED_PRECONDITION, delete_vpc=net.DeleteRequest(id=vpc.id))
    assert error.reason == "VPC_IN_USE"
    h.ok(delete_subnet=net.DeleteRequest(id=subnet.id))
    h.ok(delete_vpc=net.DeleteRequest(id=vpc.id))


def test_unknown_ids(refused) -> None:
    refused(E.ERROR_CODE_NOT_FOUND, delete_vpc=net.DeleteRequest(id="vpc-000000000001-0001"))
    refused(E.ERROR_CODE_NOT_FOUND, delete_vpc=net.DeleteRequest(id="x" * 600))  # longer than any LMDB key
    refused(E.ERROR_CODE_INVALID_ARGUMENT, delete_vpc=net.DeleteRequest(id=""))


def test_other_projects_vpc_is_not_found(h: Harness, refused) -> None:
    vpc = h.vpc(caller=project("p2"))
    error = refused(E.ERROR_CODE_NOT_FOUND, caller=project("p1"), delete_vpc=net.DeleteRequest(id=vpc.id))
    # the same answer as for an id that never existed: no existence leak
    assert error.reason == "VPC_NOT_FOUND"
    refused(
        E.ERROR_CODE_NOT_FOUND,
        caller=project("p1"),
        update_vpc=net.UpdateVpcRequest(
            vpc=res.Vpc(id=vpc.id, name="x"), update_mask=FieldMask(paths=["name"])
        ),
    )
    h.ok(caller=ADMIN, delete_vpc=net.DeleteRequest(id=vpc.id))


def test_project_rules_on_create(h: Harness, refused) -> None:
    # a project caller may repeat its own project, not name another
    assert h.vpc(project_id="p1").project_id == "p1"
    error = refused(
        E.ERROR_CODE_PERMISSION_DENIED, create_vpc=net.CreateVpcRequest(cidr="10.0.0.0/8", project_id="p2")
    )
    assert error.field_violations[0].field == "project_id"
    # admins name the project; they must name one unless their identity carries one
    assert h.vpc(caller=ADMIN, project_id="p9").project_id == "p9"
    assert h.vpc(caller=E.Caller(admin=True, project_id="p8")).project_id == "p8"
    refused(E.ERROR_CODE_INVALID_ARGUMENT, caller=ADMIN, create_vpc=net.CreateVpcRequest(cidr="10.0.0.0/8"))
    refused(
        E.ERROR_CODE_INVALID_ARGUMENT,
        caller=ADMIN,
        create_vpc=net.CreateVpcRequest(cidr="10.0.0.0/8", project_id="no spaces"),
    )
