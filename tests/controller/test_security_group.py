"""Security groups: rule validation, duplicates, rule commands, delete in use, the default group."""

from __future__ import annotations

import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from alcor.controller.state.testing import Harness, project
from alcor.internal import command_pb2 as E
from alcor.v1 import network_pb2 as net
from alcor.v1 import resources_pb2 as res

INGRESS, EGRESS = res.DIRECTION_INGRESS, res.DIRECTION_EGRESS
V4, V6 = res.ETHERTYPE_IPV4, res.ETHERTYPE_IPV6
TCP, UDP, ICMP, ICMPV6 = res.PROTOCOL_TCP, res.PROTOCOL_UDP, res.PROTOCOL_ICMP, res.PROTOCOL_ICMPV6


def rule(**kw) -> res.SecurityGroupRule:
    kw.setdefault("direction", INGRESS)
    return res.SecurityGroupRule(**kw)


def create(
    name: str = "web", *rules: res.SecurityGroupRule, **kw
) -> dict[str, net.CreateSecurityGroupRequest]:
    return {"create_security_group": net.CreateSecurityGroupRequest(name=name, rules=list(rules), **kw)}


def add_rule(r: res.SecurityGroupRule) -> dict[str, net.CreateSecurityGroupRuleRequest]:
    return {"create_security_group_rule": net.CreateSecurityGroupRuleRequest(rule=r)}


def test_create_with_rules(h: Harness) -> None:
    group = h.security_group(
        "web",
        [
            rule(protocol=TCP, port_range_min=80, port_range_max=443, remote_ip_prefix="0.0.0.0/0"),
            rule(direction=EGRESS, ethertype=V6, protocol=ICMPV6, remote_ip_prefix="2001:db8::/32"),
            rule(protocol=UDP, remote_ip_prefix="192.0.2.7", description="dns"),
        ],
        description="front",
    )
    assert (group.name, group.description, group.project_id) == ("web", "front", "p1")
    assert [r.security_group_id for r in group.rules] == [group.id] * 3
    assert len({r.id for r in group.rules}) == 3
    assert group.rules[0].ethertype == V4  # unspecified means IPv4
    assert group.rules[2].remote_ip_prefix == "192.0.2.7/32"


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (rule(direction=res.DIRECTION_UNSPECIFIED), "FIELD_REQUIRED"),
        (rule(direction=7), "INVALID_ENUM_VALUE"),
        (rule(ethertype=9), "INVALID_ENUM_VALUE"),
        (rule(protocol=99), "INVALID_ENUM_VALUE"),
        (rule(protocol=ICMP, ethertype=V6), "PROTOCOL_ETHERTYPE_MISMATCH"),
        (rule(protocol=ICMPV6), "PROTOCOL_ETHERTYPE_MISMATCH"),
        (rule(protocol=TCP, port_range_min=0, port_range_max=80), "INVALID_PORT_RANGE"),
        (rule(protocol=TCP, port_range_min=90, port_range_max=80), "INVALID_PORT_RANGE"),
        (rule(protocol=UDP, port_range_min=1, port_range_max=65536), "INVALID_PORT_RANGE"),
        (rule(protocol=TCP, port_range_min=80), "INVALID_PORT_RANGE"),
        (rule(protocol=ICMP, port_range_min=8, port_range_max=8), "INVALID_PORT_RANGE"),
        (rule(port_range_min=1, port_range_max=2), "INVALID_PORT_RANGE"),
        (rule(remote_ip_prefix="10.0.0.1/8"), "INVALID_CIDR"),
        (rule(remote_ip_prefix="nope"), "INVALID_CIDR"),
        (rule(remote_ip_prefix="2001:db8::/32"), "PREFIX_ETHERTYPE_MISMATCH"),
        (rule(ethertype=V6, remote_ip_prefix="10.0.0.0/8"), "PREFIX_ETHERTYPE_MISMATCH"),
        (rule(remote_ip_prefix="10.0.0.0/8", remote_group_id="sg-x"), "REMOTE_CONFLICT"),
        (rule(description="d" * 256), "FIELD_TOO_LONG"),
        (rule(id="sgr-mine"), "INVALID_ARGUMENT"),
        (rule(security_group_id="sg-mine"), "INVALID_ARGUMENT"),
    ],
)
def test_bad_rules(refused, bad: res.SecurityGroupRule, reason: str) -> None:
    error = refused(E.ERROR_CODE_INVALID_ARGUMENT, **create("web", rule(protocol=TCP), bad))
    assert error.reason == reason
    assert error.field_violations[0].field.startswith("rules[1]")


def test_remote_group_must_exist_in_the_project(h: Harness, refused) -> None:
    refused(E.ERROR_CODE_NOT_FOUND, **create("web", rule(remote_group_id="sg-nope")))
    theirs = h.security_group("x", caller=project("p2"))
    error = refused(E.ERROR_CODE_NOT_FOUND, **create("web", rule(remote_group_id=theirs.id)))
    assert error.field_violations[0].field == "rules[0].remote_group_id"
    mine = h.security_group("db")
    assert h.security_group("web", [rule(remote_group_id=mine.id)]).rules[0].remote_group_id == mine.id


def test_duplicate_rules(h: Harness, refused) -> None:
    r = rule(protocol=TCP, port_range_min=22, port_range_max=22, remote_ip_prefix="10.0.0.0/8")
    same = rule(
        protocol=TCP, port_range_min=22, port_range_max=22, remote_ip_prefix="10.0.0.0/8", description="x"
    )
    assert refused(E.ERROR_CODE_ALREADY_EXISTS, **create("web", r, same)).reason == "DUPLICATE_RULE"
    # IPv4 written explicitly is the same rule as the default ethertype
    group = h.security_group("web", [r])
    explicit = rule(
        ethertype=V4, protocol=TCP, port_range_min=22, port_range_max=22, remote_ip_prefix="10.0.0.0/8"
    )
    explicit.security_group_id = group.id
    refused(E.ERROR_CODE_ALREADY_EXISTS, **add_rule(explicit))


def test_create_and_delete_rule(h: Harness, refused) -> None:
    group = h.security_group("web")
    result = h.ok(**add_rule(rule(security_group_id=group.id, protocol=TCP, remote_group_id=group.id)))
    new = result.rule
    assert new.id and new.security_group_id == group.id and new.remote_group_id == group.id
    deleted = h.ok(
        delete_security_group_rule=net.DeleteSecurityGroupRuleRequest(
            security_group_id=group.id, rule_id=new.id
        )
    )
    assert deleted.done and deleted.revision == result.revision + 1
    refused(
        E.ERROR_CODE_NOT_FOUND,
        delete_security_group_rule=net.DeleteSecurityGroupRuleRequest(
            security_group_id=group.id, rule_id=new.id
        ),
    )
    refused(E.ERROR_CODE_NOT_FOUND, **add_rule(rule(security_group_id="sg-nope")))
    refused(E.ERROR_CODE_INVALID_ARGUMENT, **add_rule(rule(security_group_id=group.id, id="mine")))
    refused(E.ERROR_CODE_NOT_FOUND, caller=project("p2"), **add_rule(rule(security_group_id=group.id)))


def test_rule_limit(h: Harness, refused) -> None:
    from alcor.controller.state.security_group import MAX_RULES

    rules = [rule(protocol=TCP, port_range_min=p, port_range_max=p) for p in range(1, MAX_RULES + 1)]
    group = h.security_group("web", rules)
    error = refused(E.ERROR_CODE_RESOURCE_EXHAUSTED, **add_rule(rule(security_group_id=group.id)))
    assert error.reason == "TOO_MANY_RULES"
    refused(E.ERROR_CODE_INVALID_ARGUMENT, **create("big", *rules, rule(protocol=UDP)))


def test_delete_refused_while_a_port_uses_it(h: Harness, refused) -> None:
    _, subnet = h.network()
    group = h.security_group("web")
    port = h.port(subnet.id, security_group_ids=[group.id])
    error = refused(E.ERROR_CODE_FAILED_PRECONDITION, delete_security_group=net.DeleteRequest(id=group.id))
    assert error.reason == "SECURITY_GROUP_IN_USE"
    h.ok(delete_port=net.DeleteRequest(id=port.id))
    h.ok(delete_security_group=net.DeleteRequest(id=group.id))


def test_delete_refused_while_another_groups_rule_references_it(h: Harness, refused) -> None:
    db = h.security_group("db")
    web = h.security_group("web", [rule(remote_group_id=db.id)])
    error = refused(E.ERROR_CODE_FAILED_PRECONDITION, delete_security_group=net.DeleteRequest(id=db.id))
    assert error.reason == "SECURITY_GROUP_REFERENCED"
    h.ok(
        delete_security_group_rule=net.DeleteSecurityGroupRuleRequest(
            security_group_id=web.id, rule_id=web.rules[0].id
        )
    )
    h.ok(delete_security_group=net.DeleteRequest(id=db.id))


def test_self_reference_does_not_block_delete(h: Harness) -> None:
    group = h.security_group("web")
    h.ok(**add_rule(rule(security_group_id=group.id, remote_group_id=group.id)))
    h.ok(delete_security_group=net.DeleteRequest(id=group.id))


def test_default_group_name_is_unique_per_project(h: Harness, refused) -> None:
    _, subnet = h.network()
    h.port(subnet.id)  # creates "default"
    assert refused(E.ERROR_CODE_ALREADY_EXISTS, **create("default")).reason == "DEFAULT_GROUP_EXISTS"
    assert h.security_group("default", caller=project("p2")).project_id == "p2"
    # other names may repeat
    h.security_group("web")
    h.security_group("web")


def test_user_created_default_group_becomes_the_default(h: Harness) -> None:
    _, subnet = h.network()
    mine = h.security_group("default", [rule(protocol=TCP)])
    assert list(h.port(subnet.id).security_group_ids) == [mine.id]


def update(group_id: str, **kw) -> dict[str, net.UpdateSecurityGroupRequest]:
    return {
        "update_security_group": net.UpdateSecurityGroupRequest(
            security_group=res.SecurityGroup(id=group_id, **kw), update_mask=FieldMask(paths=sorted(kw))
        )
    }


def test_update_and_renames(h: Harness, refused) -> None:
    web = h.security_group("web")
    updated = h.ok(**update(web.id, name="www", description="d")).resource.security_group
    assert (updated.name, updated.description, len(updated.rules)) == ("www", "d", 0)
    # renaming to "default" makes it the default while none exists
    h.ok(**update(web.id, name="default"))
    _, subnet = h.network()
    assert list(h.port(subnet.id).security_group_ids) == [web.id]
    assert (
        refused(E.ERROR_CODE_INVALID_ARGUMENT, **update(web.id, name="other")).reason
        == "DEFAULT_GROUP_RENAME"
    )
    other = h.security_group("other")
    refused(E.ERROR_CODE_ALREADY_EXISTS, **update(other.id, name="default"))
    refused(E.ERROR_CODE_INVALID_ARGUMENT, **update(other.id, name="n" * 256))
    refused(
        E.ERROR_CODE_INVALID_ARGUMENT,
        update_security_group=net.UpdateSecurityGroupRequest(
            security_group=res.SecurityGroup(id=other.id), update_mask=FieldMask(paths=["rules"])
        ),
    )


def test_deleting_the_default_group_when_unused(h: Harness) -> None:
    _, subnet = h.network()
    port = h.port(subnet.id)
    first = port.security_group_ids[0]
    h.ok(delete_port=net.DeleteRequest(id=port.id))
    h.ok(delete_security_group=net.DeleteRequest(id=first))
    second = h.port(subnet.id).security_group_ids[0]
    assert second != first
