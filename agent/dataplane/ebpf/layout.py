"""Byte layouts of the BPF maps' keys and values (mirrors the structs in dp.bpf.c).

Each layout is declared once as a ctypes Structure (the readable mirror of the C struct) and
once as a `struct.Struct` for fast bulk packing; import-time assertions keep the two the same
size, and the driver checks both against the key and value sizes libbpf reports for the compiled
object at every load (`check_sizes`), so a C change that is not mirrored here fails loudly.
IPs are stored in network byte order, VNIs and ifindexes in host order, as the programs read them.
The endpoint layouts are the model's (`model.ENDPOINT_KEY`, `model.REMOTE`): the desired state
already holds remote endpoints as the bytes written here.
"""

from __future__ import annotations

import ctypes
import socket
import struct
from collections.abc import Mapping

from .. import model
from ..rules import MAX_RANGES

EP_LOCAL = 1
PORT_SG = 1


class CEndpointKey(ctypes.Structure):
    _fields_ = [("vni", ctypes.c_uint32), ("ip", ctypes.c_uint8 * 4)]


class CEndpoint(ctypes.Structure):
    _fields_ = [
        ("ifindex", ctypes.c_uint32),
        ("host_ip", ctypes.c_uint8 * 4),
        ("mac", ctypes.c_uint8 * 6),
        ("flags", ctypes.c_uint8),
        ("pad", ctypes.c_uint8),
    ]


class CPort(ctypes.Structure):
    _fields_ = [
        ("vni", ctypes.c_uint32),
        ("mac", ctypes.c_uint8 * 6),
        ("flags", ctypes.c_uint8),
        ("pad", ctypes.c_uint8),
        ("rules_version", ctypes.c_uint32),
    ]


class CConfig(ctypes.Structure):
    _fields_ = [
        ("vxlan_ifindex", ctypes.c_uint32),
        ("gateway_mac", ctypes.c_uint8 * 6),
        ("pad", ctypes.c_uint8 * 2),
    ]


class CRuleKey(ctypes.Structure):
    _fields_ = [
        ("prefixlen", ctypes.c_uint32),
        ("ifindex", ctypes.c_uint32),
        ("direction", ctypes.c_uint8),
        ("proto", ctypes.c_uint8),
        ("pad", ctypes.c_uint16),
        ("remote", ctypes.c_uint8 * 4),
    ]


class CPortRange(ctypes.Structure):
    _fields_ = [("min", ctypes.c_uint16), ("max", ctypes.c_uint16)]


class CRuleValue(ctypes.Structure):
    _fields_ = [("count", ctypes.c_uint32), ("ranges", CPortRange * MAX_RANGES)]


class CCtKey(ctypes.Structure):
    _fields_ = [
        ("vni", ctypes.c_uint32),
        ("src", ctypes.c_uint8 * 4),
        ("dst", ctypes.c_uint8 * 4),
        ("sport", ctypes.c_uint8 * 2),
        ("dport", ctypes.c_uint8 * 2),
        ("proto", ctypes.c_uint8),
        ("pad", ctypes.c_uint8 * 3),
    ]


class CCtValue(ctypes.Structure):
    _fields_ = [
        ("egress_version", ctypes.c_uint32),
        ("ingress_version", ctypes.c_uint32),
        ("flags", ctypes.c_uint8),
        ("pad", ctypes.c_uint8 * 3),
    ]


# the model packs endpoints in this very layout (its compact table is what the map holds)
ENDPOINT_KEY = model.ENDPOINT_KEY
ENDPOINT = model.REMOTE  # local entries too: ifindex, host ip, mac, flags
PORT_KEY = struct.Struct("<I")
PORT = struct.Struct("<I6sBxI")
CONFIG = struct.Struct("<I6s2x")
RULE_KEY = struct.Struct("<IIBBH4s")
RULE_VALUE = struct.Struct("<I" + "HH" * MAX_RANGES)
CT_KEY = struct.Struct("<I4s4s2s2sB3x")
CT_VALUE = struct.Struct("<IIB3x")
U32 = struct.Struct("<I")
U64 = struct.Struct("<Q")

# map name -> (key layout, value layout, ctypes key, ctypes value)
MAPS: Mapping[str, tuple[struct.Struct, struct.Struct, type, type]] = {
    "endpoints": (ENDPOINT_KEY, ENDPOINT, CEndpointKey, CEndpoint),
    "ports": (PORT_KEY, PORT, ctypes.c_uint32, CPort),
    "config": (U32, CONFIG, ctypes.c_uint32, CConfig),
    "sg_rules": (RULE_KEY, RULE_VALUE, CRuleKey, CRuleValue),
    "conntrack": (CT_KEY, CT_VALUE, CCtKey, CCtValue),
    "stats": (U32, U64, ctypes.c_uint32, ctypes.c_uint64),
}

for _name, (_k, _v, _ck, _cv) in MAPS.items():
    assert _k.size == ctypes.sizeof(_ck), (_name, "key", _k.size, ctypes.sizeof(_ck))
    assert _v.size == ctypes.sizeof(_cv), (_name, "value", _v.size, ctypes.sizeof(_cv))

# the LPM key's prefixlen counts ifindex, direction, proto and pad (64 bits) before the remote
RULE_FIXED_BITS = 64


def check_sizes(sizes: Mapping[str, tuple[int, int]]) -> None:
    """Raise if the compiled object's (key size, value size) per map differs from these layouts."""
    for name, (key, value, _, _) in MAPS.items():
        if name not in sizes:
            raise RuntimeError(f"map {name} missing from the BPF object")
        if sizes[name] != (key.size, value.size):
            raise RuntimeError(
                f"map {name}: BPF object has key/value sizes {sizes[name]}, "
                f"layout.py has {(key.size, value.size)}"
            )


def ip_bytes(ip: str) -> bytes:
    return socket.inet_pton(socket.AF_INET, ip)


def ip_str(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET, raw)


def mac_bytes(mac: str) -> bytes:
    raw = bytes.fromhex(mac.replace(":", ""))
    if len(raw) != 6:
        raise ValueError(f"bad mac {mac!r}")
    return raw


def mac_str(raw: bytes) -> str:
    return raw.hex(":")
