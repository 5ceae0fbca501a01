"""Prometheus metrics: the process's own counters and histograms, plus a database snapshot.

In-process metrics (HTTP requests, node latency) live in prometheus-client's default registry,
so every process that runs nodes or serves requests exposes its own. Cluster-wide figures (runs
by status, queue depth, lease recoveries, HITL pending and overdue) are read from PostgreSQL at
scrape time (:func:`snapshot_exposition`), so any one API process reports the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = [
    "CONTENT_TYPE",
    "HTTP_REQUESTS",
    "HTTP_REQUEST_SECONDS",
    "NODE_SECONDS",
    "MetricsSnapshot",
    "exposition",
]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

HTTP_REQUESTS = Counter(
    "eawe_http_requests_total",
    "HTTP requests answered, by method, route template and status code",
    ["method", "route", "status"],
)
HTTP_REQUEST_SECONDS = Histogram(
    "eawe_http_request_duration_seconds",
    "Time to the response start, by method and route template",
    ["method", "route"],
)
NODE_SECONDS = Histogram(
    "eawe_node_duration_seconds",
    "Node execution time, by node type and outcome (completed, interrupted, failed)",
    ["node_type", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)


@dataclass
class MetricsSnapshot:
    """Figures read from the database at scrape time (all tenants)."""

    runs_by_status: Mapping[str, int] = field(default_factory=dict)
    queue_depth: int = 0
    lease_recoveries: int = 0
    hitl_pending: int = 0
    hitl_overdue: int = 0
    hitl_escalated: int = 0


class _SnapshotCollector(Collector):
    def __init__(self, snapshot: MetricsSnapshot, statuses: Iterable[str]) -> None:
        self.snapshot = snapshot
        self.statuses = list(statuses)

    def collect(self) -> Iterable[Metric]:
        s = self.snapshot
        runs = GaugeMetricFamily("eawe_runs", "Workflow runs by status", labels=["status"])
        for status in self.statuses:
            runs.add_metric([status], s.runs_by_status.get(status, 0))
        yield runs
        yield GaugeMetricFamily(
            "eawe_run_queue_depth", "Runs waiting for a worker (PENDING)", value=s.queue_depth
        )
        yield CounterMetricFamily(
            "eawe_lease_recoveries",
            "Executions that recovered a run whose worker's lease had expired",
            value=s.lease_recoveries,
        )
        yield GaugeMetricFamily("eawe_hitl_tasks_pending", "Approval tasks waiting", value=s.hitl_pending)
        yield GaugeMetricFamily(
            "eawe_hitl_tasks_overdue", "Pending approval tasks past their due time", value=s.hitl_overdue
        )
        yield CounterMetricFamily(
            "eawe_hitl_escalations", "Overdue approval tasks escalated", value=s.hitl_escalated
        )


def exposition(snapshot: MetricsSnapshot, statuses: Iterable[str]) -> bytes:
    """The text exposition: this process's metrics followed by the database snapshot."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_SnapshotCollector(snapshot, statuses))
    return generate_latest(REGISTRY) + generate_latest(registry)
