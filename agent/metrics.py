"""The agent's Prometheus metrics, and a small HTTP endpoint that serves them from the event loop.

Each `AgentMetrics` has its own registry (several agents in one test process do not collide).
Data-plane packet counters are read from the driver when scraped, through the same single
thread that runs every other driver call (a driver need not be thread-safe); the endpoint is
served by asyncio on the agent's loop for the same reason, rather than by a server thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

APPLY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _DataplaneCounters(Collector):
    def __init__(self) -> None:
        self.values: dict[str, int] = {}

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "alcor_dataplane_packets",
            "Data-plane packet counters by name, summed over CPUs",
            labels=["counter"],
        )
        for name, value in sorted(self.values.items()):
            family.add_metric([name], value)
        yield family


class AgentMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.updates = Counter(
            "alcor_agent_updates_applied", "Goal-state updates applied", ["kind"], registry=r
        )
        self.apply_seconds = Histogram(
            "alcor_agent_apply_seconds",
            "Time to apply a batch of updates (goal state, reconcile, persist)",
            buckets=APPLY_BUCKETS,
            registry=r,
        )
        self.reconciles = Counter("alcor_agent_reconciles", "Reconcile passes", ["trigger"], registry=r)
        self.incremental_reconciles = Counter(
            "alcor_agent_incremental_reconciles",
            "Reconcile passes planned from the last pass instead of the installed data plane",
            registry=r,
        )
        self.resync_interval = Gauge(
            "alcor_agent_resync_interval_seconds",
            "Seconds until the next full resync: the configured interval, or longer when full passes are slow",
            registry=r,
        )
        self.plan_items = Counter("alcor_agent_plan_items", "Plan items executed by the driver", registry=r)
        self.failed_resources = Gauge(
            "alcor_agent_failed_resources",
            "Goal-state resources failing after the last reconcile",
            registry=r,
        )
        self.reconnects = Counter(
            "alcor_agent_reconnects", "Stream (re)connection attempts after a failure", registry=r
        )
        self.stream_errors = Counter(
            "alcor_agent_stream_errors", "Streams that ended, by reason", ["reason"], registry=r
        )
        self.connected = Gauge(
            "alcor_agent_connected", "1 while a goal-state stream is established", registry=r
        )
        self.revision = Gauge("alcor_agent_revision", "Last applied goal-state revision", registry=r)
        self.snapshots = Counter("alcor_agent_full_snapshots", "Full snapshots received", registry=r)
        self._dataplane = _DataplaneCounters()
        r.register(self._dataplane)

    def set_dataplane_counters(self, values: dict[str, int]) -> None:
        self._dataplane.values = dict(values)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


async def serve_metrics(
    metrics: AgentMetrics, host: str, port: int, refresh: Callable[[], Awaitable[None]] | None = None
) -> asyncio.Server:
    """Serve GET /metrics on host:port; `refresh` runs before each scrape (to read counters)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):
                request = await reader.readuntil(b"\r\n\r\n")
            path = request.split(b" ", 2)[1] if request.count(b" ") >= 2 else b""
            if path.split(b"?")[0] in (b"/metrics", b"/"):
                if refresh is not None:
                    await refresh()
                body, status, ctype = metrics.exposition(), b"200 OK", CONTENT_TYPE_LATEST.encode()
            else:
                body, status, ctype = b"not found\n", b"404 Not Found", b"text/plain"
            writer.write(
                b"HTTP/1.1 "
                + status
                + b"\r\nContent-Type: "
                + ctype
                + b"\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\nConnection: close\r\n\r\n"
                + body
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
            pass
        except Exception:
            log.exception("metrics scrape failed")
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port)
