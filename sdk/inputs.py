"""What the SDK accepts besides protobuf messages: enum names, short string forms, dicts, and
keyword updates turned into a message plus its FieldMask. Bad input raises ValueError naming the
field, before anything is sent.

String forms: an allocation pool "START-END", a host route "DESTINATION,NEXTHOP", a fixed IP
"ADDRESS" (in the port's subnet); enums by their short lower-case name ("ingress", "tcp",
"ipv4", "port", "security_group").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message

from alcor.v1 import resources_pb2 as res

M = TypeVar("M", bound=Message)
X = TypeVar("X")

_PREFIXES = {
    "Direction": "DIRECTION_",
    "Ethertype": "ETHERTYPE_",
    "Protocol": "PROTOCOL_",
    "ResourceKind": "RESOURCE_KIND_",
    "EventType": "EVENT_TYPE_",
    "PortStatus": "PORT_STATUS_",
    "VpcStatus": "VPC_STATUS_",
}
_ALIASES = {"sg": "security_group", "security-group": "security_group"}


def enum_value(enum: Any, value: int | str, field: str) -> int:
    """An enum value from its number, full name (PROTOCOL_TCP) or short name (tcp)."""
    if isinstance(value, int):
        if value not in enum.values():
            raise ValueError(f"{field}: {value} is not a valid {enum.DESCRIPTOR.name}")
        return value
    prefix = _PREFIXES[enum.DESCRIPTOR.name]
    name = _ALIASES.get(value.strip().lower(), value.strip().lower()).upper().replace("-", "_")
    for candidate in (name, prefix + name):
        if candidate in enum.DESCRIPTOR.values_by_name:
            return int(enum.Value(candidate))
    if name.isdigit():
        return enum_value(enum, int(name), field)
    raise ValueError(f"{field}: {value!r} is not one of {', '.join(enum_names(enum))}")


def enum_names(enum: Any) -> list[str]:
    prefix = _PREFIXES[enum.DESCRIPTOR.name]
    return [
        k[len(prefix) :].lower() for k in enum.DESCRIPTOR.values_by_name if not k.endswith("_UNSPECIFIED")
    ]


def short_name(enum: Any, value: int) -> str:
    """The short lower-case name of an enum value ("active", "tcp"; "" for unspecified)."""
    name = str(enum.Name(value))[len(_PREFIXES[enum.DESCRIPTOR.name]) :].lower()
    return "" if name == "unspecified" else name


def _message(cls: type[M], value: Any, field: str, parse: Callable[[str], dict[str, Any]]) -> M:
    if isinstance(value, cls):
        return value
    if isinstance(value, str):
        value = parse(value)
    elif isinstance(value, tuple | list):
        names = [f.name for f in cls.DESCRIPTOR.fields][: len(value)]
        value = dict(zip(names, value, strict=True))
    if not isinstance(value, Mapping):
        raise ValueError(f"{field}: expected {cls.DESCRIPTOR.name}, a dict or a string, got {value!r}")
    try:
        return cls(**value)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{field}: {e}") from None


def _split(text: str, sep: str, field: str, form: str) -> list[str]:
    parts = [p.strip() for p in text.split(sep)]
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"{field}: {text!r} is not of the form {form}")
    return parts


def ip_range(value: Any, field: str = "allocation_pools") -> res.IpRange:
    return _message(
        res.IpRange,
        value,
        field,
        lambda s: dict(zip(("start", "end"), _split(s, "-", field, "START-END"), strict=True)),
    )


def host_route(value: Any, field: str = "host_routes") -> res.HostRoute:
    return _message(
        res.HostRoute,
        value,
        field,
        lambda s: dict(
            zip(("destination", "nexthop"), _split(s, ",", field, "DESTINATION,NEXTHOP"), strict=True)
        ),
    )


def fixed_ip(value: Any, field: str = "fixed_ips") -> res.FixedIp:
    if isinstance(value, tuple | list):
        value = {"subnet_id": value[0], "ip_address": value[1]} if len(value) == 2 else value
    return _message(res.FixedIp, value, field, lambda s: {"ip_address": s.strip()})


def rule(value: Any, field: str = "rules") -> res.SecurityGroupRule:
    """A rule from a message or a dict whose direction/ethertype/protocol may be names."""
    if isinstance(value, res.SecurityGroupRule):
        return value
    if not isinstance(value, Mapping):
        raise ValueError(f"{field}: expected a SecurityGroupRule or a dict, got {value!r}")
    fields = dict(value)
    for name, enum in (
        ("direction", res.Direction),
        ("ethertype", res.Ethertype),
        ("protocol", res.Protocol),
    ):
        if name in fields:
            fields[name] = enum_value(enum, fields[name], f"{field}.{name}")
    return _message(res.SecurityGroupRule, fields, field, lambda s: {})


def many(convert: Callable[[Any, str], X], values: Iterable[Any] | None, field: str) -> list[X]:
    if values is None:
        return []
    if isinstance(values, str | Message | Mapping):
        raise ValueError(f"{field}: expected a list")
    return [convert(v, field) for v in values]


def kinds(values: Iterable[int | str] | int | str | None) -> list[int]:
    if values is None:
        return []
    if isinstance(values, int | str):
        values = [values]
    return [enum_value(res.ResourceKind, v, "kinds") for v in values]


def update(
    cls: type[M],
    key: str,
    key_value: str,
    changes: Mapping[str, Any],
    converters: Mapping[str, Callable[[Any, str], Any]] | None = None,
) -> tuple[M, FieldMask]:
    """The message naming the resource with the given changes set, and the mask listing them.
    None means "leave as is"; "" or [] clears a field."""
    if not key_value:
        raise ValueError(f"{key} is required")
    given = {k: v for k, v in changes.items() if v is not None}
    if not given:
        raise ValueError(f"nothing to update: give at least one of {', '.join(changes)}")
    msg = cls(**{key: key_value})
    for name, value in given.items():
        convert = (converters or {}).get(name)
        target = getattr(msg, name)
        if isinstance(value, str | int) and not hasattr(target, "extend"):
            setattr(msg, name, value)
        elif convert is not None:
            target.extend(many(convert, value, name))
        else:
            target.extend(many(lambda v, f: str(v), value, name))
    return msg, FieldMask(paths=sorted(given))
