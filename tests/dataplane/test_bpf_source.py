"""The Python mirrors of dp.bpf.c agree with the C source (runs without clang or root; the
driver also checks map key/value sizes against the compiled object at every load)."""

from __future__ import annotations

import re

from alcor.agent.dataplane.ebpf import build, layout
from alcor.agent.dataplane.packet import COUNTERS
from alcor.agent.dataplane.rules import MAX_RANGES

SOURCE = build.SOURCE.read_text()


def test_counter_names_follow_the_c_enum() -> None:
    body = re.search(r"enum stat \{(.*?)\};", SOURCE, re.S).group(1)
    names = [n.strip().removeprefix("STAT_").lower() for n in body.split(",") if n.strip()]
    assert names[-1] == "max"
    assert tuple(names[:-1]) == COUNTERS


def test_maps_and_constants_match() -> None:
    maps = set(re.findall(r"\}\s*(\w+)\s+SEC\(\"\.maps\"\)", SOURCE))
    assert maps == set(layout.MAPS)
    assert f"#define MAX_RANGES {MAX_RANGES}" in SOURCE
    assert "#define EP_LOCAL 1" in SOURCE and layout.EP_LOCAL == 1
    assert "#define PORT_SG 1" in SOURCE and layout.PORT_SG == 1
