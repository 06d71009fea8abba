"""The command envelope: version, request ids and idempotency, revision, applied index, batches."""

from __future__ import annotations

import pytest

from alcor.controller.state import Store, apply
from alcor.controller.state.apply import HANDLERS
from alcor.controller.state.testing import ADMIN, Harness, project
from alcor.internal import command_pb2 as cmd
from alcor.v1 import network_pb2 as net


def create_vpc(cidr: str = "10.0.0.0/16") -> dict[str, net.CreateVpcRequest]:
    return {"create_vpc": net.CreateVpcRequest(name="v", cidr=cidr)}


def test_unknown_version_is_refused_and_not_recorded(h: Harness) -> None:
    command = h.command(**create_vpc())
    command.version = 7  # type: ignore[assignment]
    before = h.store.content_hash()
    result = h.apply(command)
    assert result.error.code == cmd.ERROR_CODE_INVALID_ARGUMENT
    assert result.error.reason == "UNSUPPORTED_VERSION"
    assert h.store.revision == 0
    assert h.store.applied_index == h.index
    command.version = cmd.ENVELOPE_VERSION_1
    # nothing was recorded under the request id: the same id now applies for real
    assert h.apply(command).resource.vpc.cidr == "10.0.0.0/16"
    assert h.store.content_hash() != before


def test_unset_version_is_refused(h: Harness) -> None:
    command = h.command(**create_vpc())
    command.version = cmd.ENVELOPE_VERSION_UNSPECIFIED
    assert h.apply(command).error.reason == "UNSUPPORTED_VERSION"


def test_empty_command_is_refused(h: Harness) -> None:
    result = h.apply(cmd.Command(version=1, request_id="r", caller=h.caller))
    assert result.error.reason == "UNKNOWN_COMMAND"


def test_client_command_needs_request_id(h: Harness, refused) -> None:
    error = refused(cmd.ERROR_CODE_INVALID_ARGUMENT, request_id="", **create_vpc())
    assert error.field_violations[0].field == "request_id"


def test_oversized_request_id(h: Harness, refused) -> None:
    refused(cmd.ERROR_CODE_INVALID_ARGUMENT, request_id="x" * 129, **create_vpc())


def test_replay_returns_first_result_and_changes_nothing(h: Harness) -> None:
    first = h.run(request_id="same", **create_vpc())
    state, revision = h.store.state_hash(), h.store.revision
    again = h.run(request_id="same", **create_vpc())
    assert again == first
    assert h.store.revision == revision
    assert h.store.state_hash() == state
    assert h.store.applied_index == h.index  # the entry itself is still applied


def test_replay_of_a_failure_returns_the_same_error(h: Harness) -> None:
    first = h.run(request_id="bad", **create_vpc("10.0.0.1/16"))
    assert first.error.reason == "CIDR_HOST_BITS_SET"
    assert h.run(request_id="bad", **create_vpc("10.0.0.1/16")) == first


def test_request_id_reused_for_another_command(h: Harness) -> None:
    h.ok(request_id="r", **create_vpc())
    state = h.store.state_hash()
    result = h.run(request_id="r", **create_vpc("10.1.0.0/16"))
    assert result.error.reason == "REQUEST_ID_REUSED"
    assert h.store.state_hash() == state


def test_request_ids_are_scoped_by_caller(h: Harness) -> None:
    a = h.ok(request_id="r", caller=project("p1"), **create_vpc())
    b = h.ok(request_id="r", caller=project("p2"), **create_vpc())
    assert a.resource.vpc.id != b.resource.vpc.id
    assert b.resource.vpc.project_id == "p2"


def test_project_caller_needs_a_project(h: Harness, refused) -> None:
    refused(cmd.ERROR_CODE_PERMISSION_DENIED, caller=cmd.Caller(), **create_vpc())
    refused(cmd.ERROR_CODE_PERMISSION_DENIED, caller=cmd.Caller(project_id="bad id!"), **create_vpc())


def test_internal_commands_need_admin(h: Harness, refused) -> None:
    refused(cmd.ERROR_CODE_PERMISSION_DENIED, compact=cmd.Compact(revision=0))
    refused(cmd.ERROR_CODE_PERMISSION_DENIED, update_port_statuses=cmd.UpdatePortStatuses())
    refused(
        cmd.ERROR_CODE_PERMISSION_DENIED,
        register_node=cmd.RegisterNode(host_id="h1", underlay_ip="192.0.2.1"),
    )


def test_internal_commands_may_omit_request_id(h: Harness) -> None:
    result = h.run(
        caller=ADMIN, request_id="", register_node=cmd.RegisterNode(host_id="h1", underlay_ip="192.0.2.1")
    )
    assert result.resource.node.host_id == "h1"
    assert result.revision == 1


def test_revision_bumps_once_per_changing_command(h: Harness) -> None:
    vpc = h.vpc()
    subnet = h.subnet(vpc.id)
    assert (vpc.revision, subnet.revision) == (1, 2)
    # a bulk create of three ports (and the default group) is one revision
    bulk = h.ok(create_ports=net.CreatePortsRequest(ports=[net.CreatePortRequest(subnet_id=subnet.id)] * 3))
    assert bulk.revision == 3
    assert {item.port.revision for item in bulk.resources.items} == {3}
    assert h.store.revision == 3


def test_applied_index_is_written_with_every_entry(h: Harness) -> None:
    h.vpc()
    assert h.store.applied_index == h.index == 1
    h.run(**create_vpc("bad"))
    assert h.store.applied_index == 2


def test_apply_batch_skips_applied_entries_and_advances_past_noops(store: Store) -> None:
    h = Harness(store)
    c1, c2 = h.command(**create_vpc()), h.command(**create_vpc("10.1.0.0/16"))
    results = store.apply_batch([(5, c1), (6, c2)], applied_index=9)
    assert [i for i, _ in results] == [5, 6]
    assert store.applied_index == 9
    # a replay of already-applied entries (Raft restart) applies nothing
    assert store.apply_batch([(5, c1), (6, c2)]) == []
    assert store.revision == 2
    with pytest.raises(ValueError):
        store.apply(9, c1)


def test_apply_batch_accepts_serialized_entries(store: Store) -> None:
    h = Harness(store)
    data = h.command(**create_vpc()).SerializeToString()
    [(_, result)] = store.apply_batch([(1, data)])
    assert result.resource.vpc.vni == 1
    [(_, result)] = store.apply_batch([(2, b"\xff\xff\xff")])
    assert result.error.reason == "MALFORMED"
    assert store.applied_index == 2


def test_a_bug_aborts_the_whole_batch(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    h = Harness(store)
    h.vpc()
    before = store.content_hash()

    def boom(ctx, req):
        raise RuntimeError("bug")

    monkeypatch.setitem(HANDLERS, "delete_vpc", (boom, False))
    with pytest.raises(RuntimeError):
        store.apply_batch(
            [
                (2, h.command(**create_vpc("10.1.0.0/16"))),
                (3, h.command(delete_vpc=net.DeleteRequest(id="x"))),
            ]
        )
    assert store.content_hash() == before
    assert store.applied_index == 1


def test_apply_is_usable_inside_a_callers_transaction(store: Store) -> None:
    h = Harness(store)
    with store.env.begin(write=True) as txn:
        result = apply(store.schema, txn, h.command(**create_vpc()), 1)
    assert result.revision == 1
    assert store.revision == 1 and store.applied_index == 1


def test_same_log_gives_identical_stores(make_store) -> None:
    a, b = make_store("a"), make_store("b")
    ha = Harness(a)
    log: list[cmd.Command] = []

    def run(**payload) -> cmd.Result:
        command = ha.command(**payload)
        log.append(command)
        return ha.apply(command)

    vpc = run(**create_vpc()).resource.vpc
    subnet = run(create_subnet=net.CreateSubnetRequest(vpc_id=vpc.id, cidr="10.0.1.0/24")).resource.subnet
    for _ in range(5):
        run(create_port=net.CreatePortRequest(subnet_id=subnet.id))
    run(**create_vpc("10.0.0.1/8"))  # a refusal is part of the log too
    b.apply_batch(list(enumerate(log, start=1)))
    assert a.content_hash() == b.content_hash()
