"""The web console in a real browser against the real app (uvicorn on 127.0.0.1, real PostgreSQL).

Each test is one user flow: an operator starts a run, watches it pause live, edits and approves
(and a second decision from another tab is refused with a clear message) or rejects with a reason
from the keyboard; a designer builds a retrieve → llm → approval workflow on the canvas by drag
and drop, sees a validation error on the node and field, fixes it, publishes and diffs versions,
or imports a router workflow, draws a new route and exports it; the run viewer follows a run
live and retries a paused-with-error run; another tenant's operator and the wrong role see
nothing, because the API refuses; an administrator works the admin pages. A screenshot of each
page goes to ``artifacts/console``.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from eawe.db.models import Role
from tests.engine.stub_http import RecordedRequest, StubHTTPServer
from tests.server.console_browser import CHROMIUM, CHROMIUM_ARGS, screenshot, sign_in
from tests.server.sample_workflows import create_and_publish, fetch_then_finish, start_run, wait_for_status

WAIT_MS = 20_000


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    made = await browser.new_context(viewport={"width": 1280, "height": 800})
    made.set_default_timeout(WAIT_MS)
    try:
        yield made
    finally:
        await made.close()


@pytest.fixture
async def page(context: BrowserContext) -> Page:
    return await context.new_page()


async def test_console_page_is_served_and_api_paths_are_not_shadowed(
    client: httpx.AsyncClient, page: Page, live_url: str
) -> None:
    for path in ("/", "/inbox", "/activity/some-id", "/workflows/new"):
        response = await client.get(path)
        assert response.status_code == 200 and '<div id="root">' in response.text, path
    for path in ("/v1/no-such-route", "/threads/x/nothing/here", "/runs/x/nothing", "/mcp/x"):
        response = await client.get(path)
        assert response.status_code == 404
    missing = await client.get("/v1/no-such-route")
    assert missing.headers["content-type"].startswith("application/problem+json")
    # A wrong method on an API route is still the API's 405, an unknown API POST its 404.
    assert (await client.get("/v1/auth/token")).status_code == 405
    assert (await client.post("/v1/no-such-route")).status_code == 404
    assert (await client.get("/v1")).status_code == 404
    assert (await client.get("/../../etc/passwd")).text.startswith("<!doctype html>")
    assert (await client.get("/openapi.json")).json()["info"]["title"].startswith("EAWE")
    await page.goto(live_url + "/")
    await expect(page.get_by_role("heading", name="Sign in to EAWE")).to_be_visible()
    await page.get_by_label("Email").fill("nobody@example.com")
    await page.get_by_label("Password").fill("wrong-password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("401")
    await screenshot(page, "01-sign-in")


REVIEWED_WITH_CONTEXT = {
    "schema_version": 1,
    "state": {
        "topic": {"type": "string", "required": True},
        "context": {"type": "array"},
        "draft": {"type": "string"},
        "final": {"type": "string"},
    },
    "nodes": [
        {
            "id": "gather",
            "type": "transform",
            "config": {"set": {"context": ["Policy 4.2: hotels up to 180 EUR a night for {topic}."]}},
        },
        {
            "id": "write",
            "type": "transform",
            "config": {"set": {"draft": "The limit for {topic} is 150 EUR."}},
        },
        {
            "id": "review",
            "type": "approval",
            "config": {
                "assignee_role": "OPERATOR",
                "review": "draft",
                "instructions": "Check the draft about {topic} against the policy.",
                "show": ["topic", "context"],
                "due_in_minutes": 60,
            },
        },
        {"id": "publish", "type": "transform", "config": {"set": {"final": "published: {draft}"}}},
    ],
    "edges": [
        {"source": "START", "target": "gather"},
        {"source": "gather", "target": "write"},
        {"source": "write", "target": "review"},
        {"source": "review", "target": "publish"},
        {"source": "publish", "target": "END"},
    ],
}


async def keyboard_sign_in(page: Page, base_url: str, email: str, password: str) -> None:
    """Sign in with the keyboard only: the fields are labelled and in focus order."""
    await page.goto(base_url + "/")
    await page.get_by_label("Email").focus()
    await page.keyboard.type(email)
    await page.keyboard.press("Tab")
    await page.keyboard.type(password)
    await page.keyboard.press("Enter")
    await page.get_by_test_id("who").wait_for()


async def test_operator_starts_a_run_watches_it_pause_edits_and_approves(
    api_tenant, client: httpx.AsyncClient, context: BrowserContext, page: Page, live_url: str
) -> None:
    tenant = await api_tenant(groups=["Staff"])
    await create_and_publish(client, tenant.admin, REVIEWED_WITH_CONTEXT, name="Hotel answer")
    operator = tenant.users[Role.OPERATOR]
    await keyboard_sign_in(page, live_url, operator.email, tenant.passwords[Role.OPERATOR])
    await expect(page.get_by_role("link", name="Approval inbox")).to_have_attribute("aria-current", "page")
    await expect(page.get_by_role("link", name="Workflow Studio")).to_have_count(0)

    await page.get_by_role("link", name="Runs").click()
    await page.get_by_label("Workflow", exact=True).select_option(label="Hotel answer")
    await page.get_by_label("Run input (JSON) for the selected workflow").fill('{"topic": "Paris"}')
    await page.get_by_role("button", name="Start run").click()
    await page.wait_for_url(re.compile(r"/activity/[^/]+$"))
    run_id = page.url.rsplit("/", 1)[1]
    await expect(page.get_by_test_id("run-status")).to_have_text("PAUSED_FOR_APPROVAL")
    await expect(page.locator('.react-flow__node[data-id="review"]')).to_have_class(re.compile("st-waiting"))
    await expect(page.locator('.react-flow__node[data-id="write"]')).to_have_class(re.compile("st-done"))
    await screenshot(page, "02-run-paused")

    await page.get_by_role("link", name="Open approval task").click()
    await page.wait_for_url(re.compile(r"/inbox/[^/]+$"))
    task_id = page.url.rsplit("/", 1)[1]
    await expect(page.get_by_test_id("review-value")).to_have_text("The limit for Paris is 150 EUR.")
    await expect(page.get_by_role("heading", name="Context")).to_be_visible()
    await expect(page.get_by_text("Policy 4.2: hotels up to 180 EUR a night for Paris.")).to_be_visible()
    await expect(page.get_by_role("list", name="Pending tasks").get_by_role("link")).to_have_count(1)

    # The same task open in a second tab.
    other = await context.new_page()
    await sign_in(other, live_url, operator.email, tenant.passwords[Role.OPERATOR])
    await other.goto(f"{live_url}/inbox/{task_id}")
    await expect(other.get_by_role("button", name="Approve", exact=True)).to_be_enabled()

    await page.get_by_role("button", name="Edit then approve…").click()
    corrected = "The limit for Paris is 180 EUR a night (policy 4.2)."
    await page.get_by_label("Corrected draft").fill(corrected)
    differences = page.get_by_role("group", name="Differences")
    await expect(differences.locator(".del")).to_contain_text("150 EUR.")
    await expect(differences.locator(".ins")).to_contain_text("180 EUR a night")
    await screenshot(page, "03-inbox-edit-diff")
    await page.get_by_role("button", name="Approve with correction").click()
    await expect(page.get_by_role("status")).to_contain_text("Decision recorded: EDITED_AND_APPROVED")

    await other.get_by_role("button", name="Approve", exact=True).click()
    await expect(other.get_by_role("alert")).to_contain_text("already decided")
    await screenshot(other, "04-inbox-second-decision-409")

    await page.goto(f"{live_url}/activity/{run_id}")
    await expect(page.get_by_test_id("run-status")).to_have_text("COMPLETED")
    await expect(page.locator('.react-flow__node[data-id="publish"]')).to_have_class(re.compile("st-done"))
    timeline = page.get_by_test_id("timeline").get_by_role("listitem")
    await expect(timeline.filter(has_text="publish")).to_have_text(re.compile(r"publish — \d+(\.\d+)? m?s"))
    await screenshot(page, "05-run-completed")

    run = await wait_for_status(client, tenant.operator, run_id, "COMPLETED")
    assert run["payload"]["final"] == f"published: {corrected}"
    task = (await client.get(f"/v1/hitl-tasks/{task_id}", headers=tenant.operator)).json()
    assert task["status"] == "EDITED_AND_APPROVED" and task["human_corrected_output"] == corrected


async def connect(page: Page, source: str, target: str) -> None:
    """Draw an edge by dragging from one node's bottom handle to the next node's top handle."""
    start = page.locator(f'.react-flow__node[data-id="{source}"] .react-flow__handle.source')
    end = page.locator(f'.react-flow__node[data-id="{target}"] .react-flow__handle.target')
    a, b = await start.bounding_box(), await end.bounding_box()
    assert a and b
    await page.mouse.move(a["x"] + a["width"] / 2, a["y"] + a["height"] / 2)
    await page.mouse.down()
    await page.mouse.move(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2, steps=8)
    await page.mouse.up()


async def test_designer_builds_validates_and_publishes_a_workflow_on_the_canvas(
    api_tenant, client: httpx.AsyncClient, page: Page, live_url: str
) -> None:
    tenant = await api_tenant()
    designer = tenant.users[Role.DESIGNER]
    await sign_in(page, live_url, designer.email, tenant.passwords[Role.DESIGNER])
    await expect(page.get_by_role("link", name="Approval inbox")).to_have_count(0)
    await page.get_by_role("link", name="New workflow").click()
    await page.get_by_label("Name", exact=True).fill("Grounded answer (canvas)")

    palette = page.get_by_role("complementary", name="Node types")
    for category in ("AI", "Control flow", "Human", "Knowledge"):
        await expect(palette.get_by_role("heading", name=category)).to_be_visible()
    canvas = page.get_by_test_id("canvas")
    box = await canvas.bounding_box()
    assert box
    for index, node_type in enumerate(("retrieve", "llm", "approval")):
        await palette.locator(f'.palette-item[data-type="{node_type}"]').drag_to(
            canvas, target_position={"x": box["width"] / 2, "y": 140 + index * 110}
        )
        await expect(page.locator(f'.react-flow__node[data-id="{node_type}_1"]')).to_be_visible()
    await page.get_by_role("button", name="Fit View").click()
    for source, target in (
        ("START", "retrieve_1"),
        ("retrieve_1", "llm_1"),
        ("llm_1", "approval_1"),
        ("approval_1", "END"),
    ):
        await connect(page, source, target)
    await expect(page.locator(".react-flow__edge")).to_have_count(4)

    # Empty configs: the server's validation names the node and the field.
    await expect(page.get_by_test_id("validity")).to_contain_text("problem")
    await expect(page.locator('.react-flow__node[data-id="retrieve_1"]')).to_have_class(re.compile("invalid"))
    problems = page.get_by_role("list", name="Validation problems")
    await expect(problems).to_contain_text("nodes[0].config.query")
    await screenshot(page, "06-studio-invalid")

    # The state field the retriever writes, then each node's config form (from its JSON Schema).
    await page.get_by_label("New field").fill("context")
    await page.get_by_role("button", name="Add field").click()
    await page.get_by_label("context type").select_option("array")
    await page.locator('.react-flow__node[data-id="retrieve_1"]').click()
    await page.locator("#cfg_retrieve_1_query").fill("{question}")
    await page.locator("#cfg_retrieve_1_output").fill("context")
    await page.locator('.react-flow__node[data-id="llm_1"]').click()
    await page.locator("#cfg_llm_1_prompt").fill("Answer from {context}: {question}")
    await page.locator("#cfg_llm_1_output").fill("answer")
    await page.locator('.react-flow__node[data-id="approval_1"]').click()
    await expect(page.locator("#cfg_approval_1_review").locator("xpath=..")).to_contain_text("review")
    await page.locator("#cfg_approval_1_review").fill("answer")
    await page.locator("#cfg_approval_1_assignee_role").select_option("OPERATOR")
    await expect(page.get_by_test_id("validity")).to_have_text("Valid ✓")
    await expect(page.locator(".react-flow__node.invalid")).to_have_count(0)
    await page.get_by_role("button", name="Publish").click()
    await expect(page.get_by_role("status").filter(has_text="Published")).to_have_text("Published version 1.")
    await screenshot(page, "07-studio-published")
    # Versions: v1 is listed; an edit of the draft shows in the diff against it.
    versions = page.get_by_role("region", name="Versions")
    await expect(versions.get_by_role("listitem")).to_have_count(1)
    await expect(versions.get_by_role("listitem")).to_contain_text("v1")
    await page.locator('.react-flow__node[data-id="retrieve_1"]').click()
    await page.locator("#cfg_retrieve_1_k").fill("6")
    await expect(versions.get_by_role("group", name="Differences").locator(".ins")).to_contain_text('"k": 6')
    await expect(versions.get_by_role("group", name="Differences").locator(".del")).to_contain_text('"k": 4')
    await screenshot(page, "08-studio-versions")

    workflow_id = page.url.rsplit("/", 1)[1]
    stored = (await client.get(f"/v1/workflows/{workflow_id}", headers=tenant.designer)).json()
    assert stored["published_version"] == 1
    graph = stored["definition_graph"]
    assert [(n["id"], n["type"]) for n in graph["nodes"]] == [
        ("retrieve_1", "retrieve"),
        ("llm_1", "llm"),
        ("approval_1", "approval"),
    ]
    assert {(e["source"], e["target"]) for e in graph["edges"]} == {
        ("START", "retrieve_1"),
        ("retrieve_1", "llm_1"),
        ("llm_1", "approval_1"),
        ("approval_1", "END"),
    }
    assert graph["nodes"][0]["config"] == {"query": "{question}", "output": "context", "k": 4}


async def paused_run(client: httpx.AsyncClient, tenant, name: str) -> tuple[str, str]:
    """A published workflow and a run of it paused at its approval: (run id, task id)."""
    workflow_id = await create_and_publish(client, tenant.admin, REVIEWED_WITH_CONTEXT, name=name)
    run = await start_run(client, tenant.operator, workflow_id, {"topic": "Oslo"})
    paused = await wait_for_status(client, tenant.operator, run["id"], "PAUSED_FOR_APPROVAL")
    return run["id"], paused["pending_tasks"][0]


async def test_run_viewer_follows_the_run_live_after_an_approval_elsewhere(
    api_tenant, client: httpx.AsyncClient, page: Page, live_url: str
) -> None:
    tenant = await api_tenant()
    run_id, task_id = await paused_run(client, tenant, "Live viewer")
    operator = tenant.users[Role.OPERATOR]
    await sign_in(page, live_url, operator.email, tenant.passwords[Role.OPERATOR])
    await page.goto(f"{live_url}/activity/{run_id}")
    await expect(page.get_by_test_id("run-status")).to_have_text("PAUSED_FOR_APPROVAL")
    await expect(page.locator('.react-flow__node[data-id="publish"]')).to_have_class(re.compile("st-pending"))

    decided = await client.post(
        f"/v1/hitl-tasks/{task_id}/decision", headers=tenant.operator, json={"decision": "approve"}
    )
    assert decided.status_code == 200, decided.text
    # No reload: the page follows GET /v1/runs/{id}/events.
    await expect(page.get_by_test_id("run-status")).to_have_text("COMPLETED")
    await expect(page.locator('.react-flow__node[data-id="publish"]')).to_have_class(re.compile("st-done"))
    await expect(page.locator(".events")).to_contain_text("node.finished publish")
    await expect(page.get_by_test_id("stream-state")).to_have_text("ended")

    # A narrow screen: one column, nothing wider than the viewport.
    await page.set_viewport_size({"width": 390, "height": 844})
    for path in (f"/activity/{run_id}", "/inbox", "/activity"):
        await page.goto(live_url + path)
        await expect(page.get_by_role("navigation", name="Main")).to_be_visible()
        overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (path, overflow)
    await screenshot(page, "15-narrow-runs")


async def test_other_tenant_and_wrong_role_see_nothing_because_the_api_refuses(
    api_tenant, client: httpx.AsyncClient, context: BrowserContext, page: Page, live_url: str
) -> None:
    owner = await api_tenant()
    run_id, task_id = await paused_run(client, owner, "Private workflow")
    stranger_tenant = await api_tenant()
    stranger = stranger_tenant.users[Role.OPERATOR]
    await sign_in(page, live_url, stranger.email, stranger_tenant.passwords[Role.OPERATOR])
    await expect(page.get_by_text("No pending tasks.")).to_be_visible()
    await page.get_by_role("link", name="Runs").click()
    await expect(page.get_by_text("No runs match.")).to_be_visible()
    await expect(page.get_by_role("option", name="Private workflow")).to_have_count(0)
    await page.goto(f"{live_url}/activity/{run_id}")
    await expect(page.get_by_role("alert")).to_contain_text("404")
    await page.goto(f"{live_url}/inbox/{task_id}")
    await expect(page.get_by_role("alert")).to_contain_text("404")
    await expect(page.get_by_role("list", name="Pending tasks").get_by_role("link")).to_have_count(0)
    await screenshot(page, "09-other-tenant-404")

    # The owner tenant's designer types the operator's and the admin's addresses: the API says 403.
    designer_page = await context.new_page()
    designer = owner.users[Role.DESIGNER]
    await sign_in(designer_page, live_url, designer.email, owner.passwords[Role.DESIGNER])
    await designer_page.goto(f"{live_url}/inbox/{task_id}")
    await expect(designer_page.get_by_role("alert").first).to_contain_text("403")
    await expect(designer_page.get_by_role("alert").last).to_contain_text("403")
    await expect(designer_page.get_by_test_id("review-value")).to_have_count(0)
    await designer_page.goto(f"{live_url}/admin/users")
    await expect(designer_page.get_by_role("alert")).to_contain_text("403")
    admin_email = owner.users[Role.ADMINISTRATOR].email
    await expect(designer_page.get_by_role("cell", name=admin_email)).to_have_count(0)
    await screenshot(designer_page, "10-designer-admin-403")


async def test_admin_pages_users_keys_credentials_documents_audit(
    api_tenant, client: httpx.AsyncClient, page: Page, live_url: str, tmp_path: Path
) -> None:
    tenant = await api_tenant()
    admin = tenant.users[Role.ADMINISTRATOR]
    await sign_in(page, live_url, admin.email, tenant.passwords[Role.ADMINISTRATOR])
    await page.goto(f"{live_url}/admin/users")
    await expect(page.get_by_role("cell", name=tenant.users[Role.OPERATOR].email)).to_be_visible()
    await screenshot(page, "11-admin-users")
    await page.get_by_role("link", name="API keys").click()
    await page.get_by_label("Key name").fill("reporting job")
    await page.get_by_role("button", name="Create key").click()
    key = await page.get_by_test_id("new-key").inner_text()
    me = await client.get("/v1/users/me", headers={"X-Api-Key": key})
    assert me.status_code == 200 and me.json()["email"] == admin.email
    await page.get_by_role("button", name="I have stored it").click()
    await expect(page.get_by_test_id("new-key")).to_have_count(0)
    await expect(page.get_by_text(key)).to_have_count(0)
    await page.get_by_role("button", name="Revoke reporting job").click()
    await expect(page.get_by_role("cell", name="revoked")).to_be_visible()
    assert (await client.get("/v1/users/me", headers={"X-Api-Key": key})).status_code == 401
    await page.get_by_role("link", name="Credentials").click()
    secret = "sk-console-test-secret-value-123"
    await page.get_by_label("Name", exact=True).fill("crm")
    await page.get_by_label("Service").fill("SALESFORCE")
    await page.get_by_label("Allowed hosts (comma-separated)").fill("salesforce.example.com")
    await page.get_by_label("Secret value").fill(secret)
    await page.get_by_role("button", name="Store credential").click()
    await expect(page.get_by_role("cell", name="SALESFORCE")).to_be_visible()
    assert secret not in await page.content()
    await screenshot(page, "12-admin-credentials")

    await page.get_by_role("link", name="Documents").click()
    policy = tmp_path / "meal_policy.md"
    policy.write_text("# Meals\n\nThe daily meal allowance is 60 EUR.\n")
    await page.get_by_label("File").set_input_files(str(policy))
    await page.get_by_label("Allowed groups (comma-separated)").fill("Staff")
    await page.get_by_role("button", name="Upload").click()
    row = page.get_by_role("row").filter(has_text="meal_policy.md")
    await expect(row).to_contain_text("COMPLETED", timeout=60_000)
    await expect(row).to_contain_text("Staff")
    await screenshot(page, "13-admin-documents")

    await page.get_by_role("link", name="Audit log").click()
    await page.get_by_role("button", name="Verify chain").click()
    await expect(page.get_by_role("status")).to_contain_text("Chain intact")
    await screenshot(page, "14-admin-audit")


async def test_designer_imports_a_router_workflow_adds_a_route_and_exports_it(
    api_tenant, page: Page, live_url: str, tmp_path: Path
) -> None:
    tenant = await api_tenant()
    designer = tenant.users[Role.DESIGNER]
    await sign_in(page, live_url, designer.email, tenant.passwords[Role.DESIGNER])
    await page.goto(f"{live_url}/workflows/new")
    example = Path(__file__).parents[2] / "examples" / "invoice_triage.json"
    await page.get_by_label("Import a workflow JSON file").set_input_files(str(example))
    await expect(page.get_by_role("status").filter(has_text="Imported")).to_be_visible()
    await expect(page.locator('.react-flow__node[data-id="triage"]')).to_be_visible()
    # The router's routes are drawn from its config, labelled with the config field.
    labels = page.locator(".react-flow__edge-text")
    await expect(labels.filter(has_text="routes[0].to")).to_have_count(1)
    await expect(labels.filter(has_text="default")).to_have_count(1)
    await expect(page.get_by_test_id("validity")).to_have_text("Valid ✓")

    # A connection drawn from the router adds a route; its condition is still missing.
    await connect(page, "triage", "mark_rejected")
    await expect(labels.filter(has_text="routes[1].to")).to_have_count(1)
    await expect(page.get_by_role("list", name="Validation problems")).to_contain_text("routes[1].when")
    await expect(page.locator('.react-flow__node[data-id="triage"]')).to_have_class(re.compile("invalid"))
    await page.locator("#cfg_triage_routes_1_when").fill("invoice.amount < 0")
    await expect(page.get_by_test_id("validity")).to_have_text("Valid ✓")
    await screenshot(page, "16-studio-router")

    async with page.expect_download() as download_info:
        await page.get_by_role("button", name="Export JSON").click()
    exported = tmp_path / "exported.json"
    await (await download_info.value).save_as(exported)
    graph = json.loads(exported.read_text())
    router = next(n for n in graph["nodes"] if n["id"] == "triage")
    assert router["config"]["routes"][1] == {"to": "mark_rejected", "when": "invoice.amount < 0"}
    assert router["config"]["default"] == "auto_approve"


@pytest.fixture(scope="module")
def flaky_endpoint() -> Iterator[StubHTTPServer]:
    """A stub service on 127.0.0.1: 503 until ``healthy`` is set, then ``{"ok": true}``."""
    stub = StubHTTPServer(lambda request: (200, {"ok": True}))
    stub.healthy = False  # type: ignore[attr-defined]

    def respond(request: RecordedRequest) -> tuple[int, object]:
        return (200, {"ok": True}) if stub.healthy else (503, {"error": "down"})  # type: ignore[attr-defined]

    stub.responder = respond
    stub.start()
    yield stub
    stub.stop()


async def test_run_viewer_shows_the_error_and_retries_the_run(
    api_tenant, client: httpx.AsyncClient, page: Page, live_url: str, flaky_endpoint: StubHTTPServer
) -> None:
    tenant = await api_tenant()
    workflow_id = await create_and_publish(
        client, tenant.designer, fetch_then_finish(f"{flaky_endpoint.base_url}/x"), name="Flaky"
    )
    run = await start_run(client, tenant.operator, workflow_id, {"topic": "retry"})
    await wait_for_status(client, tenant.operator, run["id"], "PAUSED_WITH_ERROR")
    operator = tenant.users[Role.OPERATOR]
    await sign_in(page, live_url, operator.email, tenant.passwords[Role.OPERATOR])
    await page.goto(f"{live_url}/activity/{run['id']}")
    await expect(page.get_by_test_id("run-status")).to_have_text("PAUSED_WITH_ERROR")
    await expect(page.get_by_role("alert")).to_contain_text("at fetch")
    await expect(page.locator('.react-flow__node[data-id="fetch"]')).to_have_class(re.compile("st-failed"))
    await screenshot(page, "17-run-paused-with-error")

    flaky_endpoint.healthy = True  # type: ignore[attr-defined]
    await page.get_by_role("button", name="Retry").click()
    await expect(page.get_by_role("status").filter(has_text="Retry")).to_have_text("Retry queued.")
    await expect(page.get_by_test_id("run-status")).to_have_text("COMPLETED")
    await expect(page.locator('.react-flow__node[data-id="finish"]')).to_have_class(re.compile("st-done"))
    await expect(page.get_by_role("button", name="Cancel run")).to_have_count(0)


async def test_operator_rejects_with_a_reason_from_the_keyboard(
    api_tenant, client: httpx.AsyncClient, page: Page, live_url: str
) -> None:
    tenant = await api_tenant()
    run_id, task_id = await paused_run(client, tenant, "Reject me")
    operator = tenant.users[Role.OPERATOR]
    await keyboard_sign_in(page, live_url, operator.email, tenant.passwords[Role.OPERATOR])
    await page.get_by_role("list", name="Pending tasks").get_by_role("link").first.click()
    await page.get_by_role("button", name="Reject…").focus()
    await page.keyboard.press("Enter")
    reason = page.get_by_label("Reason for rejecting")
    await expect(reason).to_be_visible()
    await reason.focus()
    await page.keyboard.type("The policy says 180 EUR.")
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Reject", exact=True)).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status")).to_contain_text("Decision recorded: REJECTED")
    run = await wait_for_status(client, tenant.operator, run_id, "FAILED")
    assert run["error"]["type"] == "Rejected" and "180 EUR" in run["error"]["message"]
    task = (await client.get(f"/v1/hitl-tasks/{task_id}", headers=tenant.operator)).json()
    assert task["rejection_reason"] == "The policy says 180 EUR."
    await page.goto(f"{live_url}/activity/{run_id}")
    await expect(page.get_by_role("alert")).to_contain_text("Rejected at review")
