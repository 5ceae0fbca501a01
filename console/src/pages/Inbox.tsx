import { useCallback, useEffect, useState } from "react";
import { api, ApiError, errorText, Me, Page } from "../api";
import { Link, navigate } from "../router";
import { asText, Value } from "./Value";
import { SideBySide } from "./SideBySide";

export interface Task {
  id: string;
  workflow_run_id: string;
  node_id: string;
  status: string;
  content_visible: boolean;
  task_data: {
    instructions?: string | null;
    review_field?: string;
    value?: unknown;
    fields?: Record<string, unknown>;
    allow_edit?: boolean;
  } | null;
  original_agent_output: unknown;
  assigned_to_id: string;
  assigned_role: string | null;
  due_at: string | null;
  created_at: string;
  workflow_version: number;
}

interface RunSummary {
  id: string;
  workflow_id: string;
  status: string;
  input: unknown;
  started_at: string | null;
}

function byDue(a: Task, b: Task): number {
  // Due tasks first (soonest first), then undated ones, oldest first.
  if (a.due_at && b.due_at) return a.due_at.localeCompare(b.due_at);
  if (a.due_at) return -1;
  if (b.due_at) return 1;
  return a.created_at.localeCompare(b.created_at);
}

function when(iso: string | null): string {
  return iso ? new Date(iso).toLocaleString() : "no due date";
}

export function Inbox(props: { me: Me; taskId?: string }) {
  const [tasks, setTasks] = useState<Task[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      const page = await api<Page<Task>>("/v1/hitl-tasks/inbox?limit=100");
      setTasks([...page.items].sort(byDue));
      setError(null);
    } catch (e) {
      setError(errorText(e));
    }
  }, []);

  useEffect(() => {
    load();
  }, [load]);

  return (
    <div className="split">
      <section aria-labelledby="inbox-title" className="list-pane">
        <h1 id="inbox-title">Approval inbox</h1>
        <p className="muted">Pending tasks for you and the {props.me.role} role, soonest due first.</p>
        <button type="button" onClick={load}>
          Refresh
        </button>
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        {tasks && tasks.length === 0 && <p>No pending tasks.</p>}
        <ul className="tasks" aria-label="Pending tasks">
          {tasks?.map((task) => (
            <li key={task.id} className={task.id === props.taskId ? "selected" : undefined}>
              <Link to={`/inbox/${task.id}`} ariaCurrent={task.id === props.taskId}>
                <strong>{task.node_id}</strong> · run {task.workflow_run_id.slice(0, 8)}
                <br />
                <span className="muted">
                  due {when(task.due_at)} · {task.assigned_role || "assigned to you"}
                </span>
              </Link>
            </li>
          ))}
        </ul>
      </section>
      <section className="detail-pane" aria-live="polite">
        {props.taskId ? <TaskDetail taskId={props.taskId} onDecided={load} /> : <p>Select a task.</p>}
      </section>
    </div>
  );
}

function TaskDetail(props: { taskId: string; onDecided: () => void }) {
  const [task, setTask] = useState<Task | null>(null);
  const [run, setRun] = useState<RunSummary | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [outcome, setOutcome] = useState<string | null>(null);
  const [mode, setMode] = useState<"none" | "reject" | "edit">("none");
  const [reason, setReason] = useState("");
  const [edited, setEdited] = useState("");
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let live = true;
    setTask(null);
    setOutcome(null);
    setError(null);
    setMode("none");
    (async () => {
      try {
        const loaded = await api<Task>(`/v1/hitl-tasks/${props.taskId}`);
        if (!live) return;
        setTask(loaded);
        setEdited(asText(loaded.task_data?.value));
        setRun(await api<RunSummary>(`/v1/runs/${loaded.workflow_run_id}`));
      } catch (e) {
        if (live) setError(errorText(e));
      }
    })();
    return () => {
      live = false;
    };
  }, [props.taskId]);

  if (error && !task)
    return (
      <p role="alert" className="error">
        {error}
      </p>
    );
  if (!task) return <p className="loading">Loading…</p>;
  const data = task.task_data || {};
  const original = asText(data.value);

  const decide = async (body: Record<string, unknown>) => {
    setBusy(true);
    setError(null);
    try {
      const decided = await api<Task>(`/v1/hitl-tasks/${task.id}/decision`, { json: body });
      setTask(decided);
      setOutcome(`Decision recorded: ${decided.status}. The run continues.`);
      props.onDecided();
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) {
        setError(
          "This task was already decided — by another reviewer or in another tab. Your decision was not applied.",
        );
      } else setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  const correctedValue = (): unknown => {
    if (typeof data.value === "string" || data.value === null || data.value === undefined) return edited;
    try {
      return JSON.parse(edited);
    } catch {
      return edited;
    }
  };

  return (
    <article aria-labelledby="task-title">
      <h2 id="task-title">
        Review “{data.review_field || task.node_id}” at step {task.node_id}
      </h2>
      <p className="muted">
        Status {task.status} · due {when(task.due_at)} · run{" "}
        <Link to={`/activity/${task.workflow_run_id}`}>{task.workflow_run_id}</Link>
        {run ? ` · ${run.status}` : ""}
      </p>
      {!task.content_visible && <p>You may not read this run's content.</p>}
      {data.instructions && (
        <section>
          <h3>Instructions</h3>
          <div className="text">{data.instructions}</div>
        </section>
      )}
      <section>
        <h3>To review: {data.review_field}</h3>
        <div className="review-value" data-testid="review-value">
          <Value value={data.value} />
        </div>
      </section>
      {run?.input != null && (
        <section>
          <h3>Run input</h3>
          <Value value={run.input} />
        </section>
      )}
      {data.fields && Object.keys(data.fields).length > 0 && (
        <section>
          <h3>Context</h3>
          <Value value={data.fields} />
        </section>
      )}
      {outcome && (
        <p role="status" className="ok">
          {outcome}
        </p>
      )}
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {task.status === "PENDING" && (
        <div className="decide">
          <div className="buttons">
            <button type="button" disabled={busy} onClick={() => decide({ decision: "approve" })}>
              Approve
            </button>
            <button type="button" disabled={busy} onClick={() => setMode(mode === "reject" ? "none" : "reject")}>
              Reject…
            </button>
            {data.allow_edit !== false && (
              <button type="button" disabled={busy} onClick={() => setMode(mode === "edit" ? "none" : "edit")}>
                Edit then approve…
              </button>
            )}
          </div>
          {mode === "reject" && (
            <form
              onSubmit={(event) => {
                event.preventDefault();
                decide({ decision: "reject", reason });
              }}
            >
              <label>
                Reason for rejecting
                <textarea required value={reason} onChange={(e) => setReason(e.target.value)} rows={3} />
              </label>
              <button type="submit" disabled={busy || !reason.trim()}>
                Reject
              </button>
            </form>
          )}
          {mode === "edit" && (
            <form
              onSubmit={(event) => {
                event.preventDefault();
                decide({ decision: "edit", corrected_output: correctedValue() });
              }}
            >
              <label>
                Corrected {data.review_field}
                <textarea value={edited} onChange={(e) => setEdited(e.target.value)} rows={8} />
              </label>
              <SideBySide before={original} after={edited} />
              <button type="submit" disabled={busy || edited === original}>
                Approve with correction
              </button>
            </form>
          )}
        </div>
      )}
      <p>
        <button type="button" className="link" onClick={() => navigate("/inbox")}>
          Back to the inbox
        </button>
      </p>
    </article>
  );
}
