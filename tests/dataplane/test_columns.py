"""A snapshot decoded column-wise (`columns.decode_update`) is the snapshot decoded as messages.

Random full updates, with neighbors drawn so that fields go missing, ids repeat, values turn bad,
neighbors sit on this host or at a local port's address, and items of every kind (and empty
ones) come along: both decodings must give the same goal state, the same desired data plane and
the same problems, also after deltas on top. Clean snapshots must really take the column path.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf.message import DecodeError
from hypothesis import given, settings
from hypothesis import strategies as st

from alcor.agent.acks import StatusBook, carried
from alcor.agent.dataplane import model
from alcor.agent.dataplane.columns import (
    COLUMNS_MIN_BYTES,
    NEIGHBOR_FIELDS,
    NeighborTable,
    Snapshot,
    decode_message,
    decode_update,
)
from alcor.agent.dataplane.model import (
    KIND_NEIGHBOR,
    KIND_PORT,
    GoalState,
    desired,
    owners,
    pack_key,
    pack_remote,
)
from alcor.agent.dataplane.scenario import Scenario
from alcor.agent.store import StateStore
from alcor.v1 import goalstate_columns_pb2, goalstate_pb2

HOST, UNDERLAY = "h0", "10.250.0.1"
VNI = 100


def local_items() -> list[goalstate_pb2.GoalStateItem]:
    """A VPC with one port on HOST at 10.0.1.5 (the address a neighbor may clash with)."""
    sc = Scenario()
    sc.host(HOST, UNDERLAY)
    vpc = sc.vpc("10.0.0.0/16", VNI)
    sc.port(sc.subnet(vpc, "10.0.1.0/24"), HOST, "10.0.1.5")
    return [item for item in sc.snapshot(HOST).upserts if item.WhichOneof("item") != "neighbor"]


def neighbor(i: int, host: int = 1, **fields: object) -> goalstate_pb2.Neighbor:
    values: dict[str, object] = {
        "port_id": f"n{i}",
        "vpc_id": "vpc",
        "vni": VNI,
        "ip_address": f"10.0.{2 + i // 250}.{1 + i % 250}",
        "mac_address": f"fa:16:3e:00:{i >> 8:02x}:{i & 255:02x}",
        "host_id": f"h{host}",
        "host_ip": f"10.250.0.{1 + host}",
    }
    values.update(fields)
    return goalstate_pb2.Neighbor(**values)  # type: ignore[arg-type]


# what may go wrong with one neighbor; most are left clean so that clean snapshots come up
ODDITIES = {
    "clean": {},
    "no host ip": {"host_ip": ""},
    "no vpc": {"vpc_id": ""},
    "bad ip": {"ip_address": "10.0.999.1"},
    "bad host ip": {"host_ip": "nowhere"},
    "bad mac": {"mac_address": "fa:16:3e:zz:00:01"},
    "upper mac": {"mac_address": "FA:16:3E:00:00:01"},
    "other vni": {"vni": VNI + 1},
    "vni too big": {"vni": 1 << 24},
    "ours": {"host_id": HOST, "host_ip": UNDERLAY},
    "at the local port": {"ip_address": "10.0.1.5"},
    "same address as n0": {"ip_address": "10.0.2.1"},
    "repeated id": {"port_id": "n0"},
    "empty": None,
}
oddities = st.sampled_from(sorted(ODDITIES))


@st.composite
def snapshots(draw: st.DrawFn) -> tuple[bytes, bool]:
    """A full update's encoding, and whether every neighbor in it is clean."""
    count = draw(st.integers(1, 40))
    odd = draw(st.lists(st.tuples(st.integers(0, count - 1), oddities), max_size=3))
    changes = dict(odd)
    update = goalstate_pb2.GoalStateUpdate(revision=draw(st.integers(1, 100)), full=True)
    others = local_items()
    at = draw(st.lists(st.integers(0, count), min_size=len(others), max_size=len(others)))
    for i in range(count + 1):
        for item, where in zip(others, at, strict=True):
            if where == i:
                update.upserts.add().CopyFrom(item)
        if i == count:
            break
        oddity = ODDITIES[changes.get(i, "clean")]
        if oddity is None:
            update.upserts.add().neighbor.SetInParent()
        else:
            update.upserts.add().neighbor.CopyFrom(neighbor(i, host=1 + i % 3, **oddity))
    if draw(st.booleans()) and draw(st.booleans()):
        update.upserts.add()  # an empty item
        changes[-1] = "empty"
    clean = all(changes.get(i, "clean") in ("clean", "upper mac", "other vni") for i in (*range(count), -1))
    return update.SerializeToString(), clean


def both(raw: bytes) -> tuple[GoalState, GoalState]:
    """The goal state from `raw` decoded column-wise (where it can be) and as messages."""
    return (
        GoalState(HOST).apply(decode_update(raw, min_bytes=0)),
        GoalState(HOST).apply(goalstate_pb2.GoalStateUpdate.FromString(raw)),
    )


@settings(max_examples=300, deadline=None)
@given(snapshots())
def test_columns_give_the_goal_state_and_data_plane_of_the_messages(case: tuple[bytes, bool]) -> None:
    raw, clean = case
    decoded = decode_update(raw, min_bytes=0)
    if clean:
        assert isinstance(decoded, Snapshot)
    by_columns, by_messages = both(raw)
    assert by_columns == by_messages
    assert dict(by_columns.neighbors.items()) == dict(by_messages.neighbors.items())
    want, have = desired(by_columns), desired(by_messages)
    assert want == have
    assert want.problems == have.problems
    assert list(want.endpoints.remote_keys()) == list(have.endpoints.remote_keys())
    assert owners(by_columns, want) == owners(by_messages, have)


@settings(max_examples=100, deadline=None)
@given(
    snapshots(),
    st.lists(st.tuples(st.integers(0, 45), st.booleans(), st.integers(0, 60)), min_size=1, max_size=8),
)
def test_deltas_on_a_column_snapshot_give_what_they_give_on_messages(
    case: tuple[bytes, bool], changes: list[tuple[int, bool, int]]
) -> None:
    """The deltas move neighbors onto addresses other neighbors hold (10.0.2.x is n0..n39)."""
    raw, _ = case
    by_columns, by_messages = both(raw)
    for i, delete, address in changes:
        update = goalstate_pb2.GoalStateUpdate(
            base_revision=by_messages.revision, revision=by_messages.revision + 1
        )
        if delete:
            update.deletes.add(kind=KIND_NEIGHBOR, id=f"n{i}")
        else:
            update.upserts.add().neighbor.CopyFrom(neighbor(i, host=2, ip_address=f"10.0.2.{1 + address}"))
        by_columns, by_messages = by_columns.apply(update), by_messages.apply(update)
        assert by_columns == by_messages
        assert desired(by_columns) == desired(by_messages)
        assert ("n0" in by_columns.neighbors) == ("n0" in by_messages.neighbors)


def clean_snapshot(count: int, revision: int = 7) -> bytes:
    update = goalstate_pb2.GoalStateUpdate(revision=revision, full=True)
    update.upserts.extend(local_items())
    for i in range(count):
        update.upserts.add().neighbor.CopyFrom(neighbor(i))
    return update.SerializeToString()


def test_the_table_answers_as_a_mapping_and_builds_only_the_message_asked_for() -> None:
    raw = clean_snapshot(300)
    snapshot = decode_update(raw, min_bytes=0)
    assert isinstance(snapshot, Snapshot) and snapshot.revision == 7 and snapshot.full
    table = snapshot.neighbors
    assert isinstance(table, NeighborTable) and len(table) == 300
    assert list(table)[:2] == ["n0", "n1"]
    assert table["n299"] == neighbor(299)
    assert table.get("n300") is None and "n300" not in table and "n5" in table
    assert [n.port_id for n in table.values()] == [f"n{i}" for i in range(300)]
    # small updates, and anything that is not a full update, stay messages
    small = clean_snapshot(2)
    assert len(small) < COLUMNS_MIN_BYTES <= len(raw)
    assert isinstance(decode_update(small), goalstate_pb2.GoalStateUpdate)
    assert isinstance(decode_update(raw), Snapshot)
    delta = goalstate_pb2.GoalStateUpdate(base_revision=1, revision=2)
    delta.upserts.add().neighbor.CopyFrom(neighbor(1))
    assert isinstance(decode_update(delta.SerializeToString(), min_bytes=0), goalstate_pb2.GoalStateUpdate)


def test_a_controller_message_carrying_a_large_snapshot_decodes_to_it() -> None:
    raw = clean_snapshot(50)
    update = goalstate_pb2.GoalStateUpdate.FromString(raw)
    message = goalstate_pb2.ControllerMessage(update=update).SerializeToString()
    decoded = decode_message(message, min_bytes=0)
    assert isinstance(decoded, Snapshot) and decoded.raw == raw
    welcome = goalstate_pb2.ControllerMessage(welcome=goalstate_pb2.Welcome(revision=3))
    assert decode_message(welcome.SerializeToString(), min_bytes=0) == welcome
    small = goalstate_pb2.ControllerMessage(
        update=goalstate_pb2.GoalStateUpdate.FromString(clean_snapshot(2))
    )
    assert decode_message(small.SerializeToString()) == small


def test_a_column_snapshot_is_saved_as_it_came_and_loads_column_wise(tmp_path: Path) -> None:
    raw = clean_snapshot(200)
    snapshot = decode_update(raw, min_bytes=0)
    goal = GoalState(HOST).apply(snapshot)
    store = StateStore(tmp_path, HOST, fsync=False)
    store.append(snapshot, goal)
    assert raw in store.snapshot_path.read_bytes()
    delta = goalstate_pb2.GoalStateUpdate(base_revision=7, revision=8)
    delta.upserts.add().neighbor.CopyFrom(neighbor(500, ip_address="10.0.9.9"))
    goal = goal.apply(delta)
    store.append(delta, goal)
    store.close()
    loaded = StateStore(tmp_path, HOST, fsync=False).load()
    assert loaded == goal and desired(loaded) == desired(goal)


def test_an_ack_for_a_column_snapshot_lists_the_failures_it_carried() -> None:
    snapshot = decode_update(clean_snapshot(20), min_bytes=0)
    assert isinstance(snapshot, Snapshot)
    goal = GoalState(HOST).apply(snapshot)
    port_id = next(iter(goal.ports))
    book = StatusBook()
    failing = {(KIND_NEIGHBOR, "n3"): "map full", (KIND_PORT, port_id): "veth failed"}
    assert {(s.kind, s.id) for s in book.statuses(failing, goal, carried(snapshot))} == set(failing)
    # told once: the next ack for the same snapshot lists them again, as they are carried again
    assert {(s.kind, s.id) for s in book.statuses(failing, goal, carried(snapshot))} == set(failing)
    assert book.statuses(failing, goal) == []
    keys = carried(snapshot)
    assert (KIND_NEIGHBOR, "n19") in keys and (KIND_NEIGHBOR, "n20") not in keys
    assert (KIND_PORT, port_id) in keys and (KIND_PORT, "nope") not in keys


def test_a_full_pass_after_deltas_reads_the_snapshot_column_wise_and_the_changes_as_messages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    by_columns, by_messages = both(clean_snapshot(300))
    changes = [
        ("n5", neighbor(5, ip_address="10.0.9.5")),  # moved
        ("n7", None),  # deleted
        ("n900", neighbor(900, host=2, ip_address="10.0.9.6")),  # new
        ("n3", neighbor(3, host=2, ip_address="10.0.2.11")),  # onto n10's address: n10 wins
        ("n8", neighbor(8, ip_address="10.0.1.5")),  # moved onto the local port: a problem
    ]
    for revision, (port_id, new) in enumerate(changes, start=8):
        update = goalstate_pb2.GoalStateUpdate(base_revision=revision - 1, revision=revision)
        if new is None:
            update.deletes.add(kind=KIND_NEIGHBOR, id=port_id)
        else:
            update.upserts.add().neighbor.CopyFrom(new)
        by_columns, by_messages = by_columns.apply(update), by_messages.apply(update)
        have = desired(by_messages)
        with monkeypatch.context() as m:
            if revision < 11:  # an address held twice, or a local port's, goes back to the messages
                m.setattr(model, "_message_endpoints", None)
            want = desired(by_columns)
        assert want == have and want.problems == have.problems
        assert dict(want.endpoints.remote) == dict(have.endpoints.remote)
    assert (KIND_NEIGHBOR, "n8") in have.problems
    assert want.endpoints.remote[pack_key((VNI, "10.0.2.11"))] == pack_remote(
        "10.250.0.2", neighbor(10).mac_address
    )


def test_a_bad_encoding_raises_as_the_messages_parse_does() -> None:
    raw = clean_snapshot(100)
    torn = raw[: len(raw) - 7]
    for decode in (decode_update, decode_message):
        with pytest.raises(DecodeError):
            decode(torn, 0)
    with pytest.raises(DecodeError):
        goalstate_pb2.GoalStateUpdate.FromString(torn)


def test_the_column_views_mirror_goalstate_proto() -> None:
    """Every field of Neighbor, GoalStateItem and GoalStateUpdate has its column or view under
    the same number: a field added to goalstate.proto alone fails here."""
    pairs = [
        (goalstate_pb2.Neighbor, goalstate_columns_pb2.NeighborColumns),
        (goalstate_pb2.GoalStateItem, goalstate_columns_pb2.ItemColumns),
        (goalstate_pb2.GoalStateUpdate, goalstate_columns_pb2.UpdateColumns),
        (goalstate_pb2.ControllerMessage, goalstate_columns_pb2.ControllerMessageBytes),
    ]
    for message, view in pairs:
        fields = {f.name: f.number for f in message.DESCRIPTOR.fields}
        assert {f.name: f.number for f in view.DESCRIPTOR.fields} == fields, view.DESCRIPTOR.name
    assert set(NEIGHBOR_FIELDS) == {f.name for f in goalstate_pb2.Neighbor.DESCRIPTOR.fields}


def test_a_field_this_agent_does_not_know_keeps_the_snapshot_as_messages() -> None:
    raw = clean_snapshot(60)
    newer = goalstate_pb2.GoalStateUpdate.FromString(raw)
    newer.upserts[-1].neighbor.MergeFromString(b"\x40\x05")  # a field 8 of a newer Neighbor
    decoded = decode_update(newer.SerializeToString(), min_bytes=0)
    assert isinstance(decoded, goalstate_pb2.GoalStateUpdate)
    assert decoded.upserts[-1].neighbor.SerializeToString().endswith(b"\x40\x05")
