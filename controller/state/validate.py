"""Input validation: parse and check the fields of a command, raising typed errors.

Pure functions of their arguments (no database access). Each takes the wire value and the
field path to report (e.g. "fixed_ips[1].ip_address") and returns the parsed or canonical value,
or raises `CommandError` with INVALID_ARGUMENT naming the field. Rules that need the stored
state (existence, overlap, uniqueness) live with the resource modules.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection, Iterable

from alcor.controller.state.errors import invalid, not_found

MAX_NAME = 255
MAX_DESCRIPTION = 255
MAX_DETAIL = 1024
MAX_REQUEST_ID = 128
# Ids longer than this (in UTF-8) cannot exist; LMDB keys are limited to 511 bytes.
MAX_ID_BYTES = 255

# Project ids come from tokens (Keystone-style hex, or names); host ids are host names.
_PROJECT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_HOST_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}")
_MAC_RE = re.compile(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}")
# what the kernel accepts as an interface name (dev_valid_name), kept to printable ASCII
_IFNAME_RE = re.compile(r"[A-Za-z0-9_.-][A-Za-z0-9_.@+:-]{0,14}")


def text(value: str, field: str, limit: int = MAX_NAME) -> str:
    """A free-form string such as a name or description: at most `limit` characters."""
    if len(value) > limit:
        raise invalid(f"{field} is longer than {limit} characters", field, "FIELD_TOO_LONG")
    return value


def interface_name(value: str, field: str) -> str:
    """A Linux interface name: 1-15 characters, no '/', whitespace, or "." / ".." alone."""
    if not _IFNAME_RE.fullmatch(value) or value in (".", ".."):
        raise invalid(
            f"{field} {value!r} is not an interface name (1-15 of letters, digits, '_', '.', '-')",
            field,
            "INVALID_INTERFACE_NAME",
        )
    return value


def project_id(value: str, field: str) -> str:
    if not _PROJECT_RE.fullmatch(value):
        raise invalid(
            f"{field} must be 1-128 characters of letters, digits, '.', '_', '-'", field, "INVALID_PROJECT_ID"
        )
    return value


def host_id(value: str, field: str) -> str:
    if not _HOST_RE.fullmatch(value):
        raise invalid(
            f"{field} must be 1-253 characters of letters, digits, '.', '_', '-'", field, "INVALID_HOST_ID"
        )
    return value


def request_id(value: str) -> str:
    if len(value.encode()) > MAX_REQUEST_ID:
        raise invalid(f"request_id is longer than {MAX_REQUEST_ID} bytes", "request_id", "FIELD_TOO_LONG")
    return value


def ref_id(value: str, field: str, kind: str) -> str:
    """A reference to an existing resource: required; ids that cannot exist are NOT_FOUND."""
    if not value:
        raise invalid(f"{field} is required", field, "FIELD_REQUIRED")
    if len(value.encode()) > MAX_ID_BYTES or "\x00" in value:
        raise not_found(kind, value[:64], field)
    return value


def ipv4_network(value: str, field: str) -> ipaddress.IPv4Network:
    """An IPv4 CIDR in canonical form ("10.0.0.0/16"): no host bits, no netmask notation."""
    if not value:
        raise invalid(f"{field} is required", field, "FIELD_REQUIRED")
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError as e:
        if "has host bits set" in str(e):
            raise invalid(f"{field} {value!r} has host bits set", field, "CIDR_HOST_BITS_SET") from None
        raise invalid(f"{field} {value!r} is not a valid CIDR", field, "INVALID_CIDR") from None
    if net.version != 4:
        raise invalid(f"{field} {value!r}: only IPv4 is supported", field, "IPV6_NOT_SUPPORTED")
    if str(net) != value:
        raise invalid(f"{field} {value!r} is not in canonical form ({net})", field, "INVALID_CIDR")
    assert isinstance(net, ipaddress.IPv4Network)
    return net


def ipv4_address(value: str, field: str) -> ipaddress.IPv4Address:
    """A canonical dotted-quad IPv4 address."""
    if not value:
        raise invalid(f"{field} is required", field, "FIELD_REQUIRED")
    try:
        addr = ipaddress.IPv4Address(value)
    except ValueError:
        raise invalid(f"{field} {value!r} is not a valid IPv4 address", field, "INVALID_IP_ADDRESS") from None
    if str(addr) != value:
        raise invalid(f"{field} {value!r} is not in canonical form", field, "INVALID_IP_ADDRESS")
    return addr


def ip_address(value: str, field: str) -> str:
    """An IPv4 or IPv6 address (e.g. a DNS server); returns the canonical text."""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise invalid(f"{field} {value!r} is not a valid IP address", field, "INVALID_IP_ADDRESS") from None


def ip_prefix(value: str, field: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """An IPv4 or IPv6 prefix without host bits; a bare address means a host prefix."""
    try:
        return ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise invalid(f"{field} {value!r} is not a valid CIDR", field, "INVALID_CIDR") from None


def mac_address(value: str, field: str) -> int:
    """A unicast MAC address "aa:bb:cc:dd:ee:ff" (either case); returns it as an integer."""
    if not _MAC_RE.fullmatch(value):
        raise invalid(f"{field} {value!r} is not a MAC address (aa:bb:cc:dd:ee:ff)", field, "INVALID_MAC")
    mac = int(value.replace(":", ""), 16)
    if mac >> 40 & 1:
        raise invalid(f"{field} {value!r} is a multicast address", field, "INVALID_MAC")
    if mac == 0:
        raise invalid(f"{field} {value!r} is the zero address", field, "INVALID_MAC")
    return mac


def format_mac(mac: int) -> str:
    return mac.to_bytes(6, "big").hex(":")


def enum_value(value: int, allowed: Collection[int], field: str, what: str) -> int:
    """An enum field: proto3 keeps unknown numbers, which are refused here."""
    if value not in allowed:
        raise invalid(f"{field}: {value} is not a valid {what}", field, "INVALID_ENUM_VALUE")
    return value


def update_mask(paths: Iterable[str], allowed: Collection[str], field: str = "update_mask") -> frozenset[str]:
    """The field names of an update mask; unknown or immutable paths are refused."""
    result = frozenset(paths)
    if not result:
        raise invalid(f"{field} must name at least one field", field, "FIELD_REQUIRED")
    unknown = sorted(result - set(allowed))
    if unknown:
        raise invalid(
            f"{field}: cannot update {', '.join(unknown)} (mutable: {', '.join(sorted(allowed))})",
            field,
            "INVALID_UPDATE_MASK",
        )
    return result


def unique(values: Iterable[str], field: str) -> None:
    seen: set[str] = set()
    for i, v in enumerate(values):
        if v in seen:
            raise invalid(f"{field}[{i}] {v!r} is listed twice", f"{field}[{i}]", "DUPLICATE_VALUE")
        seen.add(v)


def at_most(values: Collection[object], limit: int, field: str) -> None:
    if len(values) > limit:
        raise invalid(f"{field} has more than {limit} entries", field, "TOO_MANY_VALUES")
