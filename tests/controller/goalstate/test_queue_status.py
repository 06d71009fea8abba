"""The per-host queue (coalescing, bound, snapshot on overflow), port status decisions from
acks, and the batched status writer's retries."""

from __future__ import annotations

import asyncio

from goalstate_helpers import follow, load
from google.protobuf.field_mask_pb2 import FieldMask

from alcor.controller.goalstate import items as it
from alcor.controller.goalstate.session import HostQueue
from alcor.controller.goalstate.status import PortStatusWriter, port_reports
from alcor.controller.state import Store
from alcor.controller.state.testing import ADMIN, Harness
from alcor.internal import command_pb2 as cmd
from alcor.raft.errors import NotLeader, OutcomeUnknown
from alcor.v1 import goalstate_pb2 as gs
from alcor.v1 import network_pb2 as net
from alcor.v1 import resources_pb2 as res

A = gs.GoalStateItem(neighbor=gs.Neighbor(port_id="a", ip_address="10.0.0.1"))
A2 = gs.GoalStateItem(neighbor=gs.Neighbor(port_id="a", ip_address="10.0.0.9"))
B = gs.GoalStateItem(neighbor=gs.Neighbor(port_id="b", ip_address="10.0.0.2"))
KA, KB = (it.KIND_NEIGHBOR, "a"), (it.KIND_NEIGHBOR, "b")


def _no_snapshot() -> gs.ControllerMessage:
    raise AssertionError("no snapshot expected")


def test_queue_coalesces_into_one_delta() -> None:
    q = HostQueue(5, limit=10, full=False)
    q.push(6, {KA: A, KB: B})
    q.push(8, {KA: A2})
    q.push(9, {KB: None})
    message = q.take(_no_snapshot)
    assert message is not None
    update = message.update
    assert (update.base_revision, update.revision, update.full) == (5, 9, False)
    assert list(update.upserts) == [A2] and [(d.kind, d.id) for d in update.deletes] == [KB]
    assert q.take(_no_snapshot) is None
    q.push(10, {KB: B})
    assert q.take(_no_snapshot).update.base_revision == 9  # type: ignore[union-attr]


def members(*ips: str) -> gs.GoalStateItem:
    return it.group_members_item("g", ips)


def change(added: tuple[str, ...] = (), removed: tuple[str, ...] = ()) -> gs.GoalStateItem:
    return gs.GoalStateItem(
        group_members_change=gs.GroupMembersChange(
            security_group_id="g", added_ip_addresses=added, removed_ip_addresses=removed
        )
    )


KG = (it.KIND_GROUP_MEMBERS, "g")


def test_queue_folds_member_changes_into_what_is_pending() -> None:
    q = HostQueue(5, limit=10, full=False)
    q.push(6, {KG: change(added=("10.0.0.3",))})
    q.push(7, {KG: change(added=("10.0.0.1",), removed=("10.0.0.3", "10.0.0.2"))})
    message = q.take(_no_snapshot)
    assert message is not None
    assert list(message.update.upserts) == [change(added=("10.0.0.1",), removed=("10.0.0.2", "10.0.0.3"))]
    # a whole list pending (the host had not held the group): the change is applied to it
    q.push(8, {KG: members("10.0.0.1", "10.0.0.2")})
    q.push(9, {KG: change(added=("10.0.0.10",), removed=("10.0.0.1",))})
    message = q.take(_no_snapshot)
    assert message is not None and list(message.update.upserts) == [members("10.0.0.2", "10.0.0.10")]


def test_queue_overflow_drops_the_backlog_for_a_snapshot() -> None:
    q = HostQueue(5, limit=1, full=False)
    q.push(6, {KA: A})
    q.push(7, {KB: B})
    assert q.needs_full and q.pending == {} and q.overflows == 1
    q.push(8, {KA: A2})  # while a snapshot is due nothing accumulates
    assert q.pending == {}
    message = q.take(lambda: it.snapshot_message(8, [it.upsert_chunk(A2), it.upsert_chunk(B)]))
    assert message is not None
    update = message.update
    assert (update.base_revision, update.revision, update.full) == (0, 8, True)
    assert len(update.upserts) == 2
    q.push(9, {KB: None})
    assert q.take(_no_snapshot).update.base_revision == 8  # type: ignore[union-attr]


def _status(h: Harness, port: res.Port, status: int, detail: str = "") -> None:
    with h.store.read() as txn:
        config = txn.get(f"{port.host_id}\x00{port.id}".encode(), db=h.store.schema.ports_by_host)
    update = cmd.PortStatusUpdate(
        port_id=port.id, status=status, status_detail=detail, host_id=port.host_id,  # type: ignore[arg-type]
        port_revision=int.from_bytes(config, "big"),
    )  # fmt: skip
    h.ok(caller=ADMIN, update_port_statuses=cmd.UpdatePortStatuses(updates=[update]))


def test_port_reports(store: Store, h: Harness) -> None:
    _, subnet = h.network()
    p1 = h.port(subnet.id, host_id="h1")
    p2 = h.port(subnet.id, host_id="h1")
    engine = load(store)
    index = engine.index
    # an ack older than a port's configuration does not report it
    assert port_reports(index, "h1", p1.revision - 1, 0, {}) == []
    assert [u.port_id for u in port_reports(index, "h1", p1.revision, 0, {})] == [p1.id]
    reports = port_reports(index, "h1", p2.revision, 0, {p2.id: "no veth"})
    assert [(u.port_id, u.status, u.status_detail, u.port_revision) for u in reports] == [
        (p1.id, res.PORT_STATUS_ACTIVE, "", p1.revision),
        (p2.id, res.PORT_STATUS_ERROR, "no veth", p2.revision),
    ]
    _status(h, p1, res.PORT_STATUS_ACTIVE)
    _status(h, p2, res.PORT_STATUS_ERROR, "no veth")
    follow(store, engine)
    now = engine.revision
    # nothing new (a resumed stream: floor = the agent's revision): the ERROR stays until the
    # agent lists the port ok
    assert port_reports(index, "h1", now, now, {}) == []
    # after a full snapshot (floor 0) every failure among the items is listed: unlisted is ok
    assert [(u.port_id, u.status) for u in port_reports(index, "h1", now, 0, {})] == [
        (p2.id, res.PORT_STATUS_ACTIVE)
    ]
    ok = port_reports(index, "h1", now, now, {}, ok=[p2.id])
    assert [(u.port_id, u.status) for u in ok] == [(p2.id, res.PORT_STATUS_ACTIVE)]
    # a new configuration that the agent applied without error clears the ERROR
    update = net.UpdatePortRequest(port=res.Port(id=p2.id, name="x"), update_mask=FieldMask(paths=["name"]))
    h.ok(caller=ADMIN, update_port=update)
    follow(store, engine)
    assert [u.port_id for u in port_reports(index, "h1", engine.revision, now, {})] == [p2.id]


def test_status_writer_retries_with_the_same_request_id() -> None:
    seen: list[cmd.Command] = []
    errors = [NotLeader(""), OutcomeUnknown("lost")]

    async def submit(command: cmd.Command) -> cmd.Result:
        seen.append(command)
        if errors:
            raise errors.pop(0)
        return cmd.Result(done=True)

    async def no_sleep(_: float) -> None:
        return None

    async def run() -> None:
        writer = PortStatusWriter(submit, "m1", batch=2, sleep=no_sleep)
        writer.start()
        updates = [
            cmd.PortStatusUpdate(port_id=f"p{i}", status=res.PORT_STATUS_ACTIVE, host_id="h")
            for i in range(3)
        ]
        writer.report(updates)
        writer.report(updates[:1])  # already pending: not duplicated
        await asyncio.wait_for(writer.flushed(), 5)
        await writer.stop()

    asyncio.run(run())
    ids = [c.request_id for c in seen]
    assert ids[0] == ids[1] == ids[2] and ids[3] != ids[0]  # two retries of batch 1, then batch 2
    assert [len(c.update_port_statuses.updates) for c in seen] == [2, 2, 2, 1]
    assert all(c.caller.admin for c in seen)
