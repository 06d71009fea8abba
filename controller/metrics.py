"""Prometheus metrics of one controller node: API requests by method and code, their latency,
Raft term / commit / apply index, watchers and connected agents.

Each node has its own registry (several nodes share a process in tests); Raft figures are read
at scrape time from the node's status, so they cost nothing between scrapes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


class _RaftCollector(Collector):
    def __init__(self, status: Callable[[], Any]) -> None:
        self.status = status

    def collect(self) -> Iterator[GaugeMetricFamily]:
        s = self.status()
        for name, doc, value in (
            ("alcor_raft_term", "Current Raft term", s.term),
            ("alcor_raft_commit_index", "Highest log index known committed", s.commit_index),
            ("alcor_raft_applied_index", "Highest log index applied to the state", s.applied_index),
            ("alcor_raft_is_leader", "1 on the leader", int(s.leader == s.id)),
            ("alcor_raft_members", "Members in the configuration", len(s.members)),
        ):
            yield GaugeMetricFamily(name, doc, value=value)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "alcor_api_requests", "API requests by method and status code", ["method", "code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "alcor_api_request_seconds", "API request latency by method", ["method"],
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.watchers = Gauge("alcor_watchers", "Open watch streams", registry=self.registry)
        self.agents = Gauge("alcor_agents_connected", "Connected agent goal-state streams", registry=self.registry)
        # a reload (after a snapshot install, a compacted change log or an engine failure)
        # sends every connected agent a full snapshot: worth seeing
        self.goal_state_loads = Counter(
            "alcor_goalstate_loads", "Goal-state engine loads from the store (the first and every reload)",
            registry=self.registry,
        )
        self.goal_state_load_seconds = Gauge(
            "alcor_goalstate_load_seconds", "Duration of the last goal-state engine load", registry=self.registry
        )
        self._server: Any = None

    def observe_request(self, method: str, code: str, seconds: float) -> None:
        self.requests.labels(method, code).inc()
        self.latency.labels(method).observe(seconds)

    def watch_raft(self, status: Callable[[], Any]) -> None:
        self.registry.register(_RaftCollector(status))

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def serve(self, host: str, port: int) -> int:
        """Serve /metrics over HTTP on a background thread; returns the bound port."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        self._server = server
        return int(server.server_address[1])

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
