"""Every SDK call, sync and asyncio, against a real 3-node controller cluster (in-process nodes
on loopback): results, revisions, request-id replays, pages, watch resume across a stopped
member, token scoping both ways, and bad input answered with its code and changing nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.controller import InProcessCluster, write_tokens

from alcor.sdk import (
    AlcorError,
    AlreadyExists,
    AsyncClient,
    Client,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from alcor.v1 import resources_pb2 as res
from alcor.v1 import watch_pb2 as w

TOKENS = {"adm": "admin", "t1": "project:p1", "t2": "project:p2"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessCluster]:
    root = tmp_path_factory.mktemp("sdk")
    tokens = write_tokens(root / "tokens", TOKENS)
    with InProcessCluster(root, size=3, token_file=str(tokens)) as c:
        yield c


@pytest.fixture
def admin(cluster: InProcessCluster) -> Iterator[Client]:
    with Client(cluster.endpoints, token="adm") as c:
        yield c


@pytest.fixture
def p1(cluster: InProcessCluster) -> Iterator[Client]:
    with Client(cluster.endpoints, token="t1") as c:
        yield c


@pytest.fixture
def p2(cluster: InProcessCluster) -> Iterator[Client]:
    with Client(cluster.endpoints, token="t2") as c:
        yield c


def stale_get(get: Any, timeout: float = 5.0) -> Any:
    """A stale read may be served by a member that has not applied the write yet: it catches up."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return get()
        except NotFound:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def test_vpc_subnet_port_lifecycle(p1: Client, admin: Client) -> None:
    vpc = p1.create_vpc(name="life", cidr="10.10.0.0/16", description="d")
    assert (vpc.project_id, vpc.cidr, vpc.revision, vpc.create_revision) == (
        "p1",
        "10.10.0.0/16",
        vpc.revision,
        vpc.revision,
    )
    assert vpc.vni > 0 and p1.last_revision == vpc.revision
    assert p1.get_vpc(vpc.id) == vpc
    assert [v.id for v in p1.list_vpcs(name="life")] == [vpc.id]
    renamed = p1.update_vpc(vpc.id, name="life2")
    assert (renamed.name, renamed.description, renamed.cidr) == ("life2", "d", vpc.cidr)
    assert renamed.revision > vpc.revision

    subnet = p1.create_subnet(
        vpc_id=vpc.id,
        cidr="10.10.1.0/24",
        name="s",
        dns_nameservers=["1.1.1.1"],
        host_routes=["10.20.0.0/16,10.10.1.1"],
        allocation_pools=["10.10.1.10-10.10.1.20"],
    )
    assert (subnet.gateway_ip, [(p.start, p.end) for p in subnet.allocation_pools]) == (
        "10.10.1.1",
        [("10.10.1.10", "10.10.1.20")],
    )
    assert p1.get_subnet(subnet.id).cidr == "10.10.1.0/24"
    assert stale_get(lambda: p1.get_subnet(subnet.id, stale=True)).cidr == "10.10.1.0/24"
    assert [s.id for s in p1.list_subnets(vpc_id=vpc.id)] == [subnet.id]
    updated = p1.update_subnet(subnet.id, dns_nameservers=[], host_routes=[("10.30.0.0/16", "10.10.1.1")])
    assert list(updated.dns_nameservers) == [] and updated.host_routes[0].destination == "10.30.0.0/16"

    admin.create_node(host_id="life-h1", underlay_ip="192.168.50.1")
    port = p1.create_port(subnet_id=subnet.id, host_id="life-h1", name="vm1", device_id="dev1")
    assert (port.vpc_id, port.fixed_ips[0].ip_address, port.status) == (
        vpc.id,
        "10.10.1.10",
        res.PORT_STATUS_DOWN,
    )
    assert len(port.security_group_ids) == 1  # the project's default group
    fixed = p1.create_port(subnet_id=subnet.id, fixed_ips=["10.10.1.15"], mac_address="fa:16:3e:00:00:15")
    assert (fixed.fixed_ips[0].ip_address, fixed.mac_address, fixed.host_id) == (
        "10.10.1.15",
        "fa:16:3e:00:00:15",
        "",
    )
    bulk = p1.create_ports(
        [{"subnet_id": subnet.id, "name": f"b{i}", "host_id": "life-h1"} for i in range(3)]
    )
    assert [p.name for p in bulk] == ["b0", "b1", "b2"] and len({p.revision for p in bulk}) == 1
    assert p1.get_port(port.id) == port
    assert {p.id for p in p1.list_ports(host_id="life-h1", page_size=2)} == {port.id, *(p.id for p in bulk)}
    assert [p.id for p in p1.list_ports(device_id="dev1")] == [port.id]
    moved = p1.update_port(port.id, host_id="", name="vm1b")
    assert (moved.host_id, moved.name) == ("", "vm1b")

    with pytest.raises(FailedPrecondition):
        p1.delete_subnet(subnet.id)  # ports are in it
    revisions = [p1.delete_port(p.id) for p in [port, fixed, *bulk]]
    assert revisions == sorted(revisions) and revisions[-1] == p1.last_revision
    p1.delete_subnet(subnet.id)
    p1.delete_vpc(vpc.id)
    with pytest.raises(NotFound):
        p1.get_vpc(vpc.id)
    admin.delete_node("life-h1")


def test_security_groups_and_rules(p1: Client) -> None:
    sg = p1.create_security_group(
        name="web",
        description="front",
        rules=[
            {
                "direction": "ingress",
                "protocol": "tcp",
                "port_range_min": 443,
                "port_range_max": 443,
                "remote_ip_prefix": "0.0.0.0/0",
            }
        ],
    )
    assert [(r.protocol, r.port_range_min) for r in sg.rules] == [(res.PROTOCOL_TCP, 443)] and sg.rules[0].id
    rule = p1.create_security_group_rule(
        sg.id, direction="egress", protocol="udp", port_range_min=53, port_range_max=53, remote_group_id=sg.id
    )
    assert (rule.security_group_id, rule.remote_group_id, rule.direction) == (
        sg.id,
        sg.id,
        res.DIRECTION_EGRESS,
    )
    assert [r.id for r in p1.get_security_group(sg.id).rules] == [sg.rules[0].id, rule.id]
    assert sg.id in {g.id for g in p1.list_security_groups()}
    assert [g.name for g in p1.list_security_groups(name="web")] == ["web"]
    assert p1.update_security_group(sg.id, description="front door").description == "front door"
    revision = p1.delete_security_group_rule(sg.id, rule.id)
    assert revision == p1.last_revision
    assert [r.id for r in p1.get_security_group(sg.id).rules] == [sg.rules[0].id]
    p1.delete_security_group(sg.id)
    with pytest.raises(NotFound):
        p1.get_security_group(sg.id)


def test_nodes_and_progress(admin: Client) -> None:
    node = admin.create_node(host_id="n-h1", underlay_ip="192.168.60.1", name="rack1")
    assert (node.host_id, node.underlay_ip, node.name) == ("n-h1", "192.168.60.1", "rack1")
    assert admin.get_node("n-h1") == node
    assert "n-h1" in {n.host_id for n in admin.list_nodes()}
    assert admin.update_node("n-h1", underlay_ip="192.168.60.2").underlay_ip == "192.168.60.2"
    with pytest.raises(AlreadyExists):
        admin.create_node(host_id="n-h1", underlay_ip="192.168.60.3")
    done = admin.wait_for_hosts(admin.current_revision(), timeout=1.0)
    assert done.complete  # no agent's goal state changed
    assert admin.delete_node("n-h1") == admin.current_revision()
    status = admin.cluster_status()
    assert status.leader_id and len(status.members) == 3


def test_a_replayed_request_id_creates_once(p1: Client) -> None:
    first = p1.create_vpc(name="once", cidr="10.40.0.0/16", request_id="replay-vpc-1")
    again = p1.create_vpc(name="once", cidr="10.40.0.0/16", request_id="replay-vpc-1")
    assert again == first
    assert [v.id for v in p1.list_vpcs(name="once")] == [first.id]
    p1.delete_vpc(first.id)


def test_pages_are_walked_by_token(p2: Client) -> None:
    vpcs = [p2.create_vpc(name=f"pg{i}", cidr=f"10.{50 + i}.0.0/16") for i in range(5)]
    page = p2.list_vpcs_page(page_size=2)
    assert len(page.items) == 2 and page.next_page_token and page.revision >= vpcs[-1].revision
    assert [v.id for v in p2.list_vpcs(page_size=2)] == [v.id for v in p2.list_vpcs(page_size=100)]
    assert {v.id for v in p2.list_vpcs()} >= {v.id for v in vpcs}
    for v in vpcs:
        p2.delete_vpc(v.id)


def test_tokens_scope_both_ways(cluster: InProcessCluster, p1: Client, p2: Client) -> None:
    mine = p1.create_vpc(name="scoped", cidr="10.60.0.0/16")
    theirs = p2.create_vpc(name="scoped", cidr="10.60.0.0/16")
    assert [v.id for v in p1.list_vpcs(name="scoped")] == [mine.id]
    assert [v.id for v in p2.list_vpcs(name="scoped")] == [theirs.id]
    for other, vpc in ((p2, mine), (p1, theirs)):
        with pytest.raises(NotFound):
            other.get_vpc(vpc.id)
        with pytest.raises(NotFound):
            other.delete_vpc(vpc.id)
    with pytest.raises(PermissionDenied):
        p2.create_vpc(cidr="10.61.0.0/16", project_id="p1")
    with pytest.raises(PermissionDenied):
        p1.create_node(host_id="x", underlay_ip="192.168.70.1")
    with pytest.raises(PermissionDenied):
        next(p1.watch(project_id="p2"))
    for token in (None, "wrong"):
        with Client(cluster.endpoints, token=token) as anon, pytest.raises(Unauthenticated):
            anon.list_vpcs_page()
    assert p1.get_vpc(mine.id) == mine and p2.get_vpc(theirs.id) == theirs
    # a project's watch carries only its own events
    start = mine.revision
    with p2.watch(from_revision=start, kinds=["vpc"]) as events:
        first = next(events)
    assert (first.resource.vpc.id, first.project_id) == (theirs.id, "p2")
    p1.delete_vpc(mine.id)
    p2.delete_vpc(theirs.id)


BAD_INPUT: list[tuple[str, Callable[[Client, dict[str, Any]], Any]]] = [
    ("vpc cidr", lambda c, r: c.create_vpc(cidr="10.0.0.0/33")),
    ("subnet outside its vpc", lambda c, r: c.create_subnet(vpc_id=r["vpc"], cidr="192.168.0.0/24")),
    ("subnet cidr", lambda c, r: c.create_subnet(vpc_id=r["vpc"], cidr="nonsense")),
    ("port unknown subnet", lambda c, r: c.create_port(subnet_id="subnet-missing")),
    ("port ip outside", lambda c, r: c.create_port(subnet_id=r["subnet"], fixed_ips=["10.70.9.9"])),
    ("port mac", lambda c, r: c.create_port(subnet_id=r["subnet"], mac_address="zz:zz")),
    (
        "bulk with one bad",
        lambda c, r: c.create_ports(
            [{"subnet_id": r["subnet"]}, {"subnet_id": r["subnet"], "mac_address": "bad"}]
        ),
    ),
    (
        "rule range",
        lambda c, r: c.create_security_group_rule(
            r["sg"], protocol="tcp", port_range_min=90, port_range_max=80
        ),
    ),
    (
        "rule both remotes",
        lambda c, r: c.create_security_group_rule(
            r["sg"], remote_ip_prefix="10.0.0.0/8", remote_group_id=r["sg"]
        ),
    ),
    ("sg without name", lambda c, r: c.create_security_group(name="")),
    ("node underlay", lambda c, r: c.create_node(host_id="bad-h", underlay_ip="not-an-ip")),
    ("update node underlay", lambda c, r: c.update_node(r["node"], underlay_ip="999.1.1.1")),
    ("update vpc unknown", lambda c, r: c.update_vpc("vpc-missing", name="x")),
    ("delete vpc in use", lambda c, r: c.delete_vpc(r["vpc"])),
    ("delete unknown rule", lambda c, r: c.delete_security_group_rule(r["sg"], "sgr-missing")),
]


@pytest.fixture(scope="module")
def fixtures(cluster: InProcessCluster) -> dict[str, Any]:
    with Client(cluster.endpoints, token="adm") as c:
        vpc = c.create_vpc(name="bad", cidr="10.70.0.0/16", project_id="p9")
        subnet = c.create_subnet(vpc_id=vpc.id, cidr="10.70.1.0/24")
        sg = c.create_security_group(name="bad", project_id="p9")
        node = c.create_node(host_id="bad-h0", underlay_ip="192.168.80.1")
        return {"vpc": vpc.id, "subnet": subnet.id, "sg": sg.id, "node": node.host_id}


@pytest.mark.parametrize("case", BAD_INPUT, ids=[name for name, _ in BAD_INPUT])
def test_bad_input_gets_its_code_and_changes_nothing(
    admin: Client, fixtures: dict[str, Any], case: tuple[str, Callable[[Client, dict[str, Any]], Any]]
) -> None:
    before = admin.current_revision()
    with pytest.raises(AlcorError) as refused:
        case[1](admin, fixtures)
    assert type(refused.value) in (InvalidArgument, NotFound, FailedPrecondition), refused.value
    if isinstance(refused.value, InvalidArgument):
        assert refused.value.field_violations, "INVALID_ARGUMENT names the bad field"
    assert admin.current_revision() == before


def test_watch_resumes_across_a_stopped_member_without_gaps(tmp_path: Path) -> None:
    with InProcessCluster(tmp_path, size=3) as c, Client(c.endpoints) as client:
        vpc = client.create_vpc(name="w", cidr="10.80.0.0/16")
        subnet = client.create_subnet(vpc_id=vpc.id, cidr="10.80.1.0/24")
        follower = next(n for n in c.nodes.values() if n is not c.leader())
        # the watch is served by a follower, which then stops
        with (
            Client([follower.config.listen, *c.endpoints], timeout=10) as watcher,
            watcher.watch(
                kinds=["port"], from_revision=subnet.revision + 1, progress_interval_ms=100
            ) as events,
        ):
            created = [client.create_port(subnet_id=subnet.id, name=f"a{i}") for i in range(5)]
            seen = [next(events) for _ in range(5)]
            c.run(follower.stop(0.1))
            created += [client.create_port(subnet_id=subnet.id, name=f"b{i}") for i in range(5)]
            seen += [next(events) for _ in range(5)]
            assert watcher.router.endpoint != follower.config.listen
        assert [e.resource.port.id for e in seen] == [p.id for p in created]
        assert [e.revision for e in seen] == [p.revision for p in created]
        assert {e.type for e in seen} == {w.EVENT_TYPE_CREATED}


def test_compacted_history_raises_out_of_range_naming_the_oldest(tmp_path: Path) -> None:
    from alcor.sdk import OutOfRange

    with (
        InProcessCluster(tmp_path, size=1, history=3, compact_interval=0.05) as c,
        Client(c.endpoints) as client,
    ):
        for i in range(12):
            client.create_vpc(name=f"c{i}", cidr=f"10.{90 + i}.0.0/16")
        oldest = 0
        for _ in range(200):  # the compactor runs on its own timer: wait for its first pass
            try:
                next(client.watch(from_revision=1, progress_interval_ms=50))
            except OutOfRange as e:
                oldest = e.oldest_revision or 0
                break
            c.run(asyncio.sleep(0.05))
        assert oldest > 1
        # compaction may still be catching up; it always keeps the last `history` revisions, so
        # starting where the latest error says delivers that revision's event
        for _ in range(50):
            try:
                with client.watch(from_revision=oldest) as events:
                    assert next(events).revision >= oldest
                break
            except OutOfRange as e:
                assert (e.oldest_revision or 0) > oldest
                oldest = e.oldest_revision or 0
        else:
            raise AssertionError("compaction never settled")


def test_async_client_covers_the_same_calls(cluster: InProcessCluster) -> None:
    async def scenario() -> None:
        async with AsyncClient(cluster.endpoints, token="t1") as c:
            vpc = await c.create_vpc(name="async", cidr="10.100.0.0/16")
            assert (await c.get_vpc(vpc.id)).id == vpc.id
            assert [v.id async for v in c.list_vpcs(name="async")] == [vpc.id]
            assert (await c.update_vpc(vpc.id, description="x")).description == "x"
            subnet = await c.create_subnet(vpc_id=vpc.id, cidr="10.100.1.0/24")
            assert (await c.update_subnet(subnet.id, name="s2")).name == "s2"
            ports = await c.create_ports([{"subnet_id": subnet.id} for _ in range(2)])
            port = await c.create_port(subnet_id=subnet.id)
            assert (await c.update_port(port.id, device_id="d")).device_id == "d"
            assert (await c.get_port(port.id)).id == port.id
            assert {p.id async for p in c.list_ports(subnet_id=subnet.id)} == {
                port.id,
                *(p.id for p in ports),
            }
            seen = []
            async with c.watch(kinds="port", from_revision=ports[0].revision) as events:
                async for e in events:
                    seen.append(e.resource.port.id)
                    if len(seen) == 3:
                        break
            assert seen == [ports[0].id, ports[1].id, port.id]
            sg = await c.create_security_group(name="a")
            rule = await c.create_security_group_rule(sg.id, protocol="icmp")
            assert (await c.get_security_group(sg.id)).rules[-1].id == rule.id
            assert [g.id async for g in c.list_security_groups(name="a")] == [sg.id]
            assert (await c.update_security_group(sg.id, name="b")).name == "b"
            await c.delete_security_group_rule(sg.id, rule.id)
            await c.delete_security_group(sg.id)
            for p in [port, *ports]:
                await c.delete_port(p.id)
            await c.delete_subnet(subnet.id)
            assert await c.delete_vpc(vpc.id) == c.last_revision
            assert (await c.cluster_status()).leader_id
        async with AsyncClient(cluster.endpoints, token="adm") as a:
            node = await a.create_node(host_id="async-h", underlay_ip="192.168.90.1")
            assert (await a.get_node(node.host_id)).underlay_ip == "192.168.90.1"
            assert (await a.update_node(node.host_id, name="n")).name == "n"
            assert "async-h" in {n.host_id async for n in a.list_nodes()}
            assert (await a.wait_for_hosts(await a.current_revision(), timeout=1)).complete
            await a.delete_node(node.host_id)

    asyncio.run(scenario())
