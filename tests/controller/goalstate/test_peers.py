"""Merging host progress reported by several members."""

from __future__ import annotations

from alcor.controller.goalstate.peers import merge
from alcor.v1 import network_pb2 as net


def test_merge_keeps_the_highest_revision_and_any_connection() -> None:
    seen: dict[str, net.HostProgress] = {}
    merge([net.HostProgress(host_id="h1", applied_revision=7, connected=True)], seen)
    merge(
        [
            net.HostProgress(host_id="h1", applied_revision=9, connected=False),  # moved on
            net.HostProgress(host_id="h2", applied_revision=0, connected=False),  # never seen
        ],
        seen,
    )
    merge([net.HostProgress(host_id="h1", applied_revision=3, connected=False)], seen)
    assert {h: (p.applied_revision, p.connected) for h, p in seen.items()} == {
        "h1": (9, True),
        "h2": (0, False),
    }


def test_merge_copies_what_it_keeps() -> None:
    report = net.HostProgress(host_id="h1", applied_revision=1)
    seen: dict[str, net.HostProgress] = {}
    merge([report], seen)
    merge([net.HostProgress(host_id="h1", applied_revision=5)], seen)
    assert report.applied_revision == 1  # a member's answer is not changed by the merge
