"""Loading the relevance index in one pass gives what linking its ports one by one gives."""

from __future__ import annotations

import random
from typing import Any

import pytest

from alcor.controller.goalstate.index import RelevanceIndex, SortedAddresses
from alcor.v1 import resources_pb2 as res

COUNTED = (
    "ports", "config_revision", "host_ports", "host_vpcs", "vpc_hosts", "host_subnets",
    "subnet_hosts", "host_groups", "group_hosts", "vpc_ports", "group_ports",
)  # fmt: skip


def _ports(rng: random.Random, n: int) -> list[tuple[res.Port, int]]:
    out = []
    for i in range(n):
        vpc = rng.choice(["v1", "v2", "v3"])
        subnet = f"{vpc}-s{rng.randrange(2)}"
        fixed = [res.FixedIp(subnet_id=rng.choice(["", subnet]), ip_address=f"10.0.{rng.randrange(3)}.{rng.randrange(40)}")]
        if rng.random() < 0.2:  # a second address, maybe in another subnet of the VPC
            fixed.append(res.FixedIp(subnet_id=f"{vpc}-s{rng.randrange(2)}", ip_address=f"10.1.0.{rng.randrange(40)}"))
        port = res.Port(
            id=f"p{i}", vpc_id=vpc, subnet_id=subnet, fixed_ips=fixed,
            host_id=rng.choice(["", "h1", "h2", "h3", "h4"]),
            security_group_ids=rng.sample(["g1", "g2", "g3"], rng.randrange(3)),
        )  # fmt: skip
        out.append((port, rng.randrange(1, 1000)))
    return out


def _view(index: RelevanceIndex) -> dict[str, Any]:
    """Everything the load fills, with the order of every dict (snapshots follow it)."""

    def ordered(value: Any) -> Any:
        if isinstance(value, dict):
            return [(k, ordered(v)) for k, v in value.items()]
        if isinstance(value, set):
            return sorted(value)
        return value

    view = {name: ordered(getattr(index, name)) for name in COUNTED}
    view["addresses"] = [(g, a.counts, a.keys, a.ips) for g, a in index._addresses.items()]
    view["member_changes"] = index._member_changes
    return view


@pytest.mark.parametrize("seed", range(30))
def test_loading_in_one_pass_equals_linking_port_by_port(seed: int) -> None:
    ports = _ports(random.Random(seed), 200)
    bulk = RelevanceIndex()
    bulk.load([], [], [], [], ports)
    one_by_one = RelevanceIndex()
    for port, config_revision in ports:
        one_by_one.ports[port.id] = port
        one_by_one.config_revision[port.id] = config_revision
        one_by_one._link(port)
    one_by_one.take_member_changes()
    assert _view(bulk) == _view(one_by_one)


def test_sorted_addresses_of_equals_adding_one_by_one() -> None:
    rng = random.Random(7)
    ips = [f"10.{rng.randrange(3)}.{rng.randrange(3)}.{rng.randrange(256)}" for _ in range(500)]
    added = SortedAddresses()
    for ip in ips:
        added.add(ip)
    built = SortedAddresses.of(ips)
    assert (built.counts, built.keys, built.ips) == (added.counts, added.keys, added.ips)
    assert list(built.counts) == list(added.counts)
