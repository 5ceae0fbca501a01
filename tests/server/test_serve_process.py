"""A real ``eawe serve`` process: its trace reaches an OTLP collector on 127.0.0.1 with the span
tree request → run execution → nodes; its JSON logs carry the ids; a second serve, a busy port
and an ``eawe run`` beside it are refused with one line."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from psycopg import sql

from eawe.db.models import Role
from tests.conftest import TEST_AUDIT_SIGNING_KEYS, TEST_CREDENTIAL_KEYS, _swap_dbname
from tests.server.sample_workflows import fetch_then_finish

EAWE = [sys.executable, "-m", "cli"]
JWT = "test-jwt-secret-not-for-production-0123456789"

DRAFT = {
    "schema_version": 1,
    "state": {"topic": {"type": "string", "required": True}, "draft": {"type": "string"}},
    "nodes": [
        {"id": "draft", "type": "llm", "config": {"prompt": "Write about {topic}.", "output": "draft"}},
        {"id": "sign", "type": "transform", "config": {"set": {"draft": "{draft} (signed)"}}},
    ],
    "edges": [
        {"source": "START", "target": "draft"},
        {"source": "draft", "target": "sign"},
        {"source": "sign", "target": "END"},
    ],
}


@dataclass
class Collector:
    """An OTLP/HTTP trace receiver: decodes each export into plain span dicts."""

    spans: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def find(self, predicate: Any, timeout: float = 20.0) -> list[dict[str, Any]]:
        give_up = time.monotonic() + timeout
        while time.monotonic() < give_up:
            found = [s for s in list(self.spans) if predicate(s)]
            if found:
                return found
            time.sleep(0.1)
        return []


def _decode(body: bytes) -> list[dict[str, Any]]:
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans = []
    for resource in request.resource_spans:
        service = next(
            (a.value.string_value for a in resource.resource.attributes if a.key == "service.name"), None
        )
        for scope in resource.scope_spans:
            for span in scope.spans:
                attributes = {}
                for a in span.attributes:
                    kind = a.value.WhichOneof("value")
                    attributes[a.key] = getattr(a.value, kind) if kind else None
                spans.append(
                    {
                        "service": service,
                        "name": span.name,
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "parent_id": span.parent_span_id.hex(),
                        "attributes": attributes,
                    }
                )
    return spans


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    found = Collector()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            if self.path == "/v1/traces":
                found.spans.extend(_decode(body))
            reply = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    found.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield found
    server.shutdown()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env(database_conninfo: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("EAWE_", "DATABASE_URL", "QDRANT_", "OPENAI_", "OTEL_", "LANGSMITH_"))
    }
    env.update(
        DATABASE_URL=database_conninfo,
        EAWE_ENVIRONMENT="test",
        EAWE_DATA_DIR=str(data_dir),
        EAWE_CREDENTIAL_KEYS=TEST_CREDENTIAL_KEYS,
        EAWE_JWT_SECRET=JWT,
        EAWE_AUDIT_SIGNING_KEYS=TEST_AUDIT_SIGNING_KEYS,
        **extra,
    )
    return env


@dataclass
class Served:
    url: str
    port: int
    data_dir: Path
    stderr: Path
    env: dict[str, str]


@pytest.fixture(scope="module")
def served(database_conninfo: str, collector: Collector, tmp_path_factory) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("served")
    port = _free_port()
    env = _env(
        database_conninfo,
        data_dir,
        EAWE_LOG_FORMAT="json",
        OTEL_EXPORTER_OTLP_ENDPOINT=collector.url,
        OTEL_BSP_SCHEDULE_DELAY="100",
        OTEL_SERVICE_NAME="eawe-under-test",
    )
    stderr = data_dir / "serve.stderr"
    with stderr.open("w") as err:
        process = subprocess.Popen(
            [*EAWE, "serve", "--port", str(port)],
            env=env,
            cwd=data_dir,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        give_up = time.monotonic() + 120
        while True:
            assert process.poll() is None, stderr.read_text()
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < give_up, "eawe serve did not become healthy"
            time.sleep(0.3)
        yield Served(url=url, port=port, data_dir=data_dir, stderr=stderr, env=env)
    finally:
        process.terminate()
        process.wait(timeout=60)


async def test_a_run_traces_request_to_execution_to_nodes(
    served: Served, collector: Collector, tenant_factory
) -> None:
    made = await tenant_factory(users=[("admin@example.com", Role.ADMINISTRATOR, [])])
    admin = made.users[0]
    async with httpx.AsyncClient(base_url=served.url, timeout=30) as http:
        token = (
            await http.post(
                "/v1/auth/token", data={"username": admin.email, "password": made.passwords[admin.email]}
            )
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        workflow = (
            await http.post(
                "/v1/workflows", headers=headers, json={"name": "traced", "definition_graph": DRAFT}
            )
        ).json()
        assert (
            await http.post(f"/v1/workflows/{workflow['id']}/publish", headers=headers)
        ).status_code == 200
        created = await http.post(
            "/v1/runs", headers=headers, json={"workflow_id": workflow["id"], "input": {"topic": "trains"}}
        )
        assert created.status_code == 202, created.text
        run_id = created.json()["id"]
        for _ in range(300):
            run = (await http.get(f"/v1/runs/{run_id}", headers=headers)).json()
            if run["status"] not in ("PENDING", "RUNNING"):
                break
            time.sleep(0.1)
        assert run["status"] == "COMPLETED", run

    executions = collector.find(
        lambda s: s["name"] == "run.execute" and s["attributes"].get("eawe.run.id") == run_id
    )
    assert len(executions) == 1
    execution = executions[0]
    assert (
        execution["service"] == "eawe-under-test"
        and execution["attributes"]["eawe.run.status"] == "COMPLETED"
    )
    requests = [s for s in collector.spans if s["span_id"] == execution["parent_id"]]
    assert len(requests) == 1, "the execution's parent is the request that created the run"
    request = requests[0]
    assert request["name"] == "POST /v1/runs" and request["trace_id"] == execution["trace_id"]
    assert request["attributes"].get("http.route") == "/v1/runs"
    nodes = collector.find(lambda s: s["name"].startswith("node ") and s["parent_id"] == execution["span_id"])
    nodes = (
        collector.find(
            lambda s: (
                s["name"].startswith("node ") and s["parent_id"] == execution["span_id"] and len(nodes) >= 2
            )
        )
        or nodes
    )
    assert sorted(s["name"] for s in nodes) == ["node draft", "node sign"]
    draft = next(s for s in nodes if s["name"] == "node draft")
    assert (
        draft["attributes"]["eawe.node.type"] == "llm"
        and draft["attributes"]["gen_ai.usage.input_tokens"] > 0
    )
    assert {s["trace_id"] for s in nodes} == {request["trace_id"]}

    lines = [json.loads(line) for line in served.stderr.read_text().splitlines() if line.startswith("{")]
    in_node = [line for line in lines if line.get("run_id") == run_id and line.get("node_id") == "draft"]
    assert in_node, "the llm node's log line carries the run and node ids"
    assert in_node[0]["tenant_id"] == made.tenant.id and in_node[0]["trace_id"] == request["trace_id"]
    assert any(line.get("request_id") for line in lines)
    assert JWT not in served.stderr.read_text()


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*EAWE, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_second_serve_busy_port_and_run_beside_serve_are_refused_in_one_line(
    served: Served, database_conninfo: str, tmp_path: Path
) -> None:
    second = _cli(["serve", "--port", str(_free_port())], served.env, served.data_dir)
    assert second.returncode == 2
    assert second.stderr.strip().count("\n") == 0 and "already using" in second.stderr, second.stderr

    other_dir = tmp_path / "other"
    started = time.monotonic()
    busy = _cli(["serve", "--port", str(served.port)], _env(database_conninfo, other_dir), tmp_path)
    assert busy.returncode == 2 and f"port {served.port}" in busy.stderr and "in use" in busy.stderr
    assert busy.stderr.strip().count("\n") == 0, busy.stderr
    assert time.monotonic() - started < 60  # no database was started or migrated first

    workflow = tmp_path / "wf.json"
    workflow.write_text(json.dumps(DRAFT))
    beside = _cli(["run", str(workflow), "--input", '{"topic": "x"}'], served.env, served.data_dir)
    assert beside.returncode == 2 and "eawe serve" in beside.stderr and "POST /v1/runs" in beside.stderr
    assert beside.stderr.strip().count("\n") == 0, beside.stderr


@pytest.fixture
def own_database(pg_admin_conninfo: str) -> Iterator[str]:
    """A database no `eawe serve` of this module works on (its worker would take the CLI's runs)."""
    name = f"eawe_t_cli_run_{secrets.token_hex(3)}"
    with psycopg.connect(pg_admin_conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield _swap_dbname(pg_admin_conninfo, name)
    finally:
        with psycopg.connect(pg_admin_conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def test_eawe_run_refuses_an_unknown_tenant_and_exits_nonzero_unless_completed(
    own_database: str, tmp_path: Path
) -> None:
    env = _env(own_database, tmp_path / "data")
    workflow = tmp_path / "wf.json"
    workflow.write_text(json.dumps(DRAFT))
    typo = _cli(
        ["run", str(workflow), "--input", '{"topic": "x"}', "--tenant", "Typo-tenant-x"], env, tmp_path
    )
    assert typo.returncode == 2 and "tenant 'Typo-tenant-x' not found" in typo.stderr

    completed = _cli(["run", str(workflow), "--input", '{"topic": "x"}'], env, tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["status"] == "COMPLETED"

    failing = fetch_then_finish(f"http://127.0.0.1:{_free_port()}/nothing-listens")
    workflow.write_text(json.dumps(failing))
    failed = _cli(["run", str(workflow), "--input", '{"topic": "x"}'], env, tmp_path)
    assert json.loads(failed.stdout)["status"] == "PAUSED_WITH_ERROR", failed.stderr
    assert failed.returncode == 1


def test_a_worker_process_serves_its_own_metrics_on_its_port(database_conninfo: str, tmp_path: Path) -> None:
    port = _free_port()
    env = _env(database_conninfo, tmp_path / "data", EAWE_WORKER_METRICS_PORT=str(port))
    worker = subprocess.Popen(
        [*EAWE, "worker", "--no-retrieval"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        give_up = time.monotonic() + 90
        while True:
            assert worker.poll() is None, worker.stderr.read() if worker.stderr else ""
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < give_up, "the worker's metrics port never opened"
                time.sleep(0.3)
        assert response.status_code == 200
        assert "# TYPE eawe_node_duration_seconds histogram" in response.text
    finally:
        worker.terminate()
        worker.wait(timeout=60)
