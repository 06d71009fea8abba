"""Security-group compilation: the LPM form answers exactly what the rules say."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from alcor.agent.dataplane.rules import (
    ALL_PORTS,
    EGRESS,
    INGRESS,
    MAX_RANGES,
    Rule,
    RuleKey,
    allows,
    compile_rules,
    expand,
    lookup,
    merge,
    rules_version,
)
from alcor.v1 import goalstate_pb2, resources_pb2

TCP, UDP, ICMP = 6, 17, 1


def test_merge_joins_overlapping_and_adjacent_ranges() -> None:
    assert merge([(80, 80), (22, 22), (81, 90), (85, 100), (200, 300)]) == ((22, 22), (80, 100), (200, 300))


def test_expand_reads_ports_prefixes_and_groups() -> None:
    r = resources_pb2.SecurityGroupRule(
        id="r",
        direction=INGRESS,
        protocol=TCP,
        port_range_min=80,
        port_range_max=90,
        remote_ip_prefix="10.0.1.7/24",
    )
    assert expand(r, {}) == ([Rule(INGRESS, TCP, "10.0.1.0/24", ((80, 90),))], None)
    r = resources_pb2.SecurityGroupRule(id="r", direction=EGRESS, protocol=ICMP, port_range_min=8)
    assert expand(r, {}) == ([Rule(EGRESS, ICMP, "0.0.0.0/0", ALL_PORTS)], None)  # ICMP: ports ignored
    members = {"g": goalstate_pb2.GroupMembers(security_group_id="g", ip_addresses=["10.0.0.1", "fd00::1"])}
    r = resources_pb2.SecurityGroupRule(id="r", direction=INGRESS, remote_group_id="g")
    assert expand(r, members) == ([Rule(INGRESS, 0, "10.0.0.1/32", ALL_PORTS)], None)


def test_expand_reports_what_it_cannot_enforce() -> None:
    bad_range = resources_pb2.SecurityGroupRule(
        id="r", direction=INGRESS, protocol=TCP, port_range_min=90, port_range_max=80
    )
    assert expand(bad_range, {})[1] == "rule r: bad port range 90-80"
    unknown_group = resources_pb2.SecurityGroupRule(id="r", direction=INGRESS, remote_group_id="nope")
    assert expand(unknown_group, {}) == ([], "rule r: members of group nope unknown")
    v6 = resources_pb2.SecurityGroupRule(id="r", direction=INGRESS, ethertype=resources_pb2.ETHERTYPE_IPV6)
    assert expand(v6, {}) == ([], None)  # never matches an IPv4 packet: nothing to enforce


def test_broader_prefixes_flow_into_narrower_entries() -> None:
    table, problems = compile_rules(
        [
            Rule(INGRESS, TCP, "0.0.0.0/0", ((22, 22),)),
            Rule(INGRESS, TCP, "10.0.0.0/8", ((80, 80),)),
            Rule(INGRESS, TCP, "10.1.2.3/32", ((443, 443),)),
        ]
    )
    assert not problems
    assert table[RuleKey(INGRESS, TCP, "10.1.2.3/32")] == ((22, 22), (80, 80), (443, 443))
    assert lookup(table, INGRESS, TCP, "10.1.2.3", 22)
    assert lookup(table, INGRESS, TCP, "10.9.9.9", 80)
    assert not lookup(table, INGRESS, TCP, "10.9.9.9", 443)
    assert not lookup(table, INGRESS, TCP, "11.0.0.1", 80)
    assert not lookup(table, EGRESS, TCP, "10.1.2.3", 22)


def test_too_many_ranges_under_allow_and_say_so() -> None:
    rules = [Rule(INGRESS, TCP, "0.0.0.0/0", ((p, p),)) for p in range(1000, 1000 + 2 * (MAX_RANGES + 2), 2)]
    table, problems = compile_rules(rules)
    assert len(table[RuleKey(INGRESS, TCP, "0.0.0.0/0")]) == MAX_RANGES
    assert problems and "exceed" in problems[0]
    assert not lookup(table, INGRESS, TCP, "1.2.3.4", rules[-1].ranges[0][0])


def test_rules_version_tracks_content() -> None:
    a, _ = compile_rules([Rule(INGRESS, TCP, "0.0.0.0/0", ((22, 22),))])
    b, _ = compile_rules([Rule(INGRESS, TCP, "0.0.0.0/0", ((22, 23),))])
    assert rules_version(a) == rules_version(dict(a)) != rules_version(b)


prefixes = st.builds(
    lambda a, p: str(ipaddress.IPv4Network((a, p), strict=False)),
    st.sampled_from([0x0A000000, 0x0A000100, 0x0A000105, 0x0A010000, 0xC0A80001]),
    st.sampled_from([0, 8, 16, 24, 30, 32]),
)
port_ranges = st.tuples(st.integers(0, 100), st.integers(0, 30)).map(lambda t: ((t[0], t[0] + t[1]),))
rule_lists = st.lists(
    st.builds(
        Rule, st.sampled_from([INGRESS, EGRESS]), st.sampled_from([0, TCP, UDP]), prefixes, port_ranges
    ),
    max_size=6,
)
addresses = st.sampled_from(["10.0.0.1", "10.0.1.5", "10.0.1.6", "10.1.0.9", "192.168.0.1", "8.8.8.8"])


@settings(max_examples=300, deadline=None)
@given(
    rule_lists,
    st.sampled_from([INGRESS, EGRESS]),
    st.sampled_from([TCP, UDP, ICMP]),
    addresses,
    st.integers(0, 140),
)
def test_compiled_lookup_equals_the_rules(rules, direction, proto, remote, port) -> None:
    table, problems = compile_rules(rules)
    assert not problems
    assert lookup(table, direction, proto, remote, port) == allows(rules, direction, proto, remote, port)
