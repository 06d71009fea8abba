"""Security group commands: groups with rules, rule create/delete, the per-project default group.

Decisions:
- Rules are stored inline in their group (a group has at most MAX_RULES rules), so rule checks
  (duplicates, lookup by id) are bounded scans of one record.
- `rule_references` indexes rules by the group they name as remote, so deleting a group checks
  "referenced by another group's rule" with one seek.
- The group named "default" is unique per project and is the project's default group: created
  with the standard rules the first time a port needs it, or by the user (then with the user's
  rules). It cannot be renamed; it can be deleted while unused (recreated on next use).
- Port ranges apply to TCP and UDP only; other protocols must leave them 0.
"""

from __future__ import annotations

from alcor.controller.schema import join, prefix
from alcor.controller.state import validate
from alcor.controller.state.context import Ctx
from alcor.controller.state.errors import already_exists, exhausted, failed_precondition, invalid, not_found
from alcor.controller.state.records import SECURITY_GROUP, children, has_prefix, in_project
from alcor.v1 import network_pb2 as net
from alcor.v1 import resources_pb2 as res
from alcor.v1 import watch_pb2 as watch

DEFAULT_NAME = "default"
MAX_RULES = 200
MUTABLE = frozenset({"name", "description"})

_DIRECTIONS = frozenset({res.DIRECTION_INGRESS, res.DIRECTION_EGRESS})
_ETHERTYPES = frozenset({res.ETHERTYPE_IPV4, res.ETHERTYPE_IPV6})
_PROTOCOLS = frozenset(res.Protocol.values())
_PORT_PROTOCOLS = frozenset({res.PROTOCOL_TCP, res.PROTOCOL_UDP})
_ICMP_ETHERTYPE: dict[int, int] = {
    res.PROTOCOL_ICMP: res.ETHERTYPE_IPV4,
    res.PROTOCOL_ICMPV6: res.ETHERTYPE_IPV6,
}

RuleIdentity = tuple[int, int, int, int, int, str, str]


def identity(r: res.SecurityGroupRule) -> RuleIdentity:
    """What makes two rules the same rule (everything but id and description)."""
    return (
        r.direction,
        r.ethertype,
        r.protocol,
        r.port_range_min,
        r.port_range_max,
        r.remote_ip_prefix,
        r.remote_group_id,
    )


def create(ctx: Ctx, req: net.CreateSecurityGroupRequest) -> res.Resource:
    project = ctx.target_project(req.project_id)
    name = validate.text(req.name, "name")
    description = validate.text(req.description, "description", validate.MAX_DESCRIPTION)
    if name == DEFAULT_NAME:
        _claim_default_name(ctx, project, "name")
    validate.at_most(req.rules, MAX_RULES, "rules")
    group = res.SecurityGroup(id=ctx.new_id("sg"), project_id=project, name=name, description=description)
    seen: set[RuleIdentity] = set()
    for i, r in enumerate(req.rules):
        field = f"rules[{i}]"
        if r.id or r.security_group_id:
            raise invalid(f"{field}: id and security_group_id are assigned by the controller", field)
        rule = _rule(ctx, r, group.id, project, field)
        if identity(rule) in seen:
            raise already_exists(f"{field} duplicates an earlier rule", "DUPLICATE_RULE", field)
        seen.add(identity(rule))
        group.rules.append(rule)
    _insert(ctx, group)
    return SECURITY_GROUP.resource(group)


def ensure_default(ctx: Ctx, project: str) -> str:
    """The id of `project`'s default group, creating it (with the standard rules) on first use."""
    existing = ctx.txn.get(project.encode(), db=ctx.s.default_security_group)
    if existing is not None:
        return bytes(existing).decode()
    group = res.SecurityGroup(id=ctx.new_id("sg"), project_id=project, name=DEFAULT_NAME)
    # Ingress from members of the group itself, all egress; for both IPv4 and IPv6.
    for direction in (res.DIRECTION_INGRESS, res.DIRECTION_EGRESS):
        for ethertype in (res.ETHERTYPE_IPV4, res.ETHERTYPE_IPV6):
            group.rules.add(
                id=ctx.new_id("sgr"),
                security_group_id=group.id,
                direction=direction,
                ethertype=ethertype,
                remote_group_id=group.id if direction == res.DIRECTION_INGRESS else "",
            )
    _insert(ctx, group)
    return group.id


def update(ctx: Ctx, req: net.UpdateSecurityGroupRequest) -> res.Resource:
    paths = validate.update_mask(req.update_mask.paths, MUTABLE)
    group = ctx.load(SECURITY_GROUP, req.security_group.id, "security_group.id")
    if "name" in paths:
        name = validate.text(req.security_group.name, "security_group.name")
        if name != group.name:
            if group.name == DEFAULT_NAME:
                raise invalid(
                    "the default security group cannot be renamed",
                    "security_group.name",
                    "DEFAULT_GROUP_RENAME",
                )
            if name == DEFAULT_NAME:
                _claim_default_name(ctx, group.project_id, "security_group.name")
                ctx.txn.put(group.project_id.encode(), group.id.encode(), db=ctx.s.default_security_group)
            group.name = name
    if "description" in paths:
        group.description = validate.text(
            req.security_group.description, "security_group.description", validate.MAX_DESCRIPTION
        )
    _save(ctx, group)
    return SECURITY_GROUP.resource(group)


def delete(ctx: Ctx, req: net.DeleteRequest) -> None:
    group = ctx.load(SECURITY_GROUP, req.id, "id")
    if has_prefix(ctx.txn, ctx.s.ports_by_security_group, prefix(group.id)):
        raise failed_precondition(
            f"security group {group.id!r} is used by ports", "SECURITY_GROUP_IN_USE", "id"
        )
    own = group.id.encode()
    for suffix in children(ctx.txn, ctx.s.rule_references, prefix(group.id)):
        if suffix.split(b"\x00", 1)[0] != own:
            raise failed_precondition(
                f"security group {group.id!r} is the remote group of another group's rule",
                "SECURITY_GROUP_REFERENCED",
                "id",
            )
    for rule in group.rules:
        _reference(ctx, rule, present=False)
    ctx.txn.delete(group.id.encode(), db=ctx.s.security_groups)
    ctx.index_project(SECURITY_GROUP, group.project_id, group.id, present=False)
    default = ctx.txn.get(group.project_id.encode(), db=ctx.s.default_security_group)
    if default is not None and bytes(default) == own:
        ctx.txn.delete(group.project_id.encode(), db=ctx.s.default_security_group)
    ctx.emit(watch.EVENT_TYPE_DELETED, SECURITY_GROUP, group)


def create_rule(ctx: Ctx, req: net.CreateSecurityGroupRuleRequest) -> res.SecurityGroupRule:
    group = ctx.load(SECURITY_GROUP, req.rule.security_group_id, "rule.security_group_id")
    if req.rule.id:
        raise invalid("rule.id is assigned by the controller", "rule.id")
    if len(group.rules) >= MAX_RULES:
        raise exhausted(
            f"security group {group.id!r} already has {MAX_RULES} rules", "TOO_MANY_RULES", "rule"
        )
    rule = _rule(ctx, req.rule, group.id, group.project_id, "rule")
    key = identity(rule)
    if any(identity(r) == key for r in group.rules):
        raise already_exists("the group already has this rule", "DUPLICATE_RULE", "rule")
    group.rules.append(rule)
    _reference(ctx, rule, present=True)
    _save(ctx, group)
    return rule


def delete_rule(ctx: Ctx, req: net.DeleteSecurityGroupRuleRequest) -> None:
    group = ctx.load(SECURITY_GROUP, req.security_group_id, "security_group_id")
    for i, rule in enumerate(group.rules):
        if rule.id == req.rule_id:
            _reference(ctx, rule, present=False)
            del group.rules[i]
            _save(ctx, group)
            return
    raise not_found("security group rule", req.rule_id, "rule_id")


def _claim_default_name(ctx: Ctx, project: str, field: str) -> None:
    if ctx.txn.get(project.encode(), db=ctx.s.default_security_group) is not None:
        raise already_exists(
            f"project {project!r} already has a security group named {DEFAULT_NAME!r}",
            "DEFAULT_GROUP_EXISTS",
            field,
        )


def _insert(ctx: Ctx, group: res.SecurityGroup) -> None:
    ctx.stamp(group, created=True)
    ctx.save(SECURITY_GROUP, group, watch.EVENT_TYPE_CREATED)
    ctx.index_project(SECURITY_GROUP, group.project_id, group.id)
    if group.name == DEFAULT_NAME:
        ctx.txn.put(group.project_id.encode(), group.id.encode(), db=ctx.s.default_security_group)
    for rule in group.rules:
        _reference(ctx, rule, present=True)


def _save(ctx: Ctx, group: res.SecurityGroup) -> None:
    ctx.stamp(group, created=False)
    ctx.save(SECURITY_GROUP, group, watch.EVENT_TYPE_UPDATED)


def _reference(ctx: Ctx, rule: res.SecurityGroupRule, present: bool) -> None:
    if not rule.remote_group_id:
        return
    key = join(rule.remote_group_id, rule.security_group_id, rule.id)
    if present:
        ctx.txn.put(key, b"", db=ctx.s.rule_references)
    else:
        ctx.txn.delete(key, db=ctx.s.rule_references)


def _rule(
    ctx: Ctx, r: res.SecurityGroupRule, group_id: str, project: str, field: str
) -> res.SecurityGroupRule:
    """A validated copy of rule `r` for group `group_id`, with a new id."""
    if r.direction == res.DIRECTION_UNSPECIFIED:
        raise invalid(f"{field}.direction is required", f"{field}.direction", "FIELD_REQUIRED")
    direction = validate.enum_value(r.direction, _DIRECTIONS, f"{field}.direction", "direction")
    ethertype = validate.enum_value(
        r.ethertype or res.ETHERTYPE_IPV4, _ETHERTYPES, f"{field}.ethertype", "ethertype"
    )
    protocol = validate.enum_value(r.protocol, _PROTOCOLS, f"{field}.protocol", "protocol")
    if _ICMP_ETHERTYPE.get(protocol, ethertype) != ethertype:
        raise invalid(
            f"{field}.protocol {res.Protocol.Name(protocol)} does not match ethertype {res.Ethertype.Name(ethertype)}",
            f"{field}.protocol",
            "PROTOCOL_ETHERTYPE_MISMATCH",
        )
    lo, hi = r.port_range_min, r.port_range_max
    if protocol in _PORT_PROTOCOLS:
        if (lo, hi) != (0, 0) and not 1 <= lo <= hi <= 65535:
            raise invalid(
                f"{field}: port range {lo}-{hi} must satisfy 1 <= min <= max <= 65535 (or both 0 for all)",
                f"{field}.port_range_min",
                "INVALID_PORT_RANGE",
            )
    elif (lo, hi) != (0, 0):
        raise invalid(
            f"{field}: port ranges apply to TCP and UDP only", f"{field}.port_range_min", "INVALID_PORT_RANGE"
        )
    if r.remote_ip_prefix and r.remote_group_id:
        raise invalid(
            f"{field}: set remote_ip_prefix or remote_group_id, not both",
            f"{field}.remote_ip_prefix",
            "REMOTE_CONFLICT",
        )
    remote_prefix = ""
    if r.remote_ip_prefix:
        network = validate.ip_prefix(r.remote_ip_prefix, f"{field}.remote_ip_prefix")
        if network.version != (4 if ethertype == res.ETHERTYPE_IPV4 else 6):
            raise invalid(
                f"{field}.remote_ip_prefix {r.remote_ip_prefix} does not match the ethertype",
                f"{field}.remote_ip_prefix",
                "PREFIX_ETHERTYPE_MISMATCH",
            )
        remote_prefix = str(network)
    if r.remote_group_id and r.remote_group_id != group_id:
        validate.ref_id(r.remote_group_id, f"{field}.remote_group_id", SECURITY_GROUP.label)
        if not in_project(ctx.s, ctx.txn, SECURITY_GROUP, r.remote_group_id, project):
            raise not_found(SECURITY_GROUP.label, r.remote_group_id, f"{field}.remote_group_id")
    return res.SecurityGroupRule(
        id=ctx.new_id("sgr"),
        security_group_id=group_id,
        direction=direction,  # type: ignore[arg-type]
        ethertype=ethertype,  # type: ignore[arg-type]
        protocol=protocol,  # type: ignore[arg-type]
        port_range_min=lo,
        port_range_max=hi,
        remote_ip_prefix=remote_prefix,
        remote_group_id=r.remote_group_id,
        description=validate.text(r.description, f"{field}.description", validate.MAX_DESCRIPTION),
    )
