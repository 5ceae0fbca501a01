import { useEffect, useMemo, useState } from "react";
import { api, errorText, Me, Page } from "../api";
import { Link } from "../router";

export interface Run {
  id: string;
  workflow_id: string;
  workflow_version: number;
  thread_id?: string | null;
  status: string;
  input: unknown;
  payload: unknown;
  state: { next?: string[]; interrupts?: string[]; checkpoint_id?: string } | null;
  error: { node_id?: string; type?: string; message?: string; kind?: string } | null;
  started_by_id: string | null;
  attempts: number;
  cancel_requested: boolean;
  started_at: string | null;
  completed_at: string | null;
  created_at: string;
  content_visible: boolean;
  pending_tasks?: string[] | null;
}

interface Workflow {
  id: string;
  name: string;
  status: string;
  published_version: number | null;
}

const STATUSES = ["PENDING", "RUNNING", "PAUSED_FOR_APPROVAL", "PAUSED_WITH_ERROR", "COMPLETED", "FAILED", "CANCELLED"];

export function RunList(props: { me: Me }) {
  const [runs, setRuns] = useState<Run[] | null>(null);
  const [workflows, setWorkflows] = useState<Workflow[]>([]);
  const [status, setStatus] = useState("");
  const [workflowId, setWorkflowId] = useState("");
  const [starter, setStarter] = useState("");
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [startInput, setStartInput] = useState('{"question": ""}');
  const [startMessage, setStartMessage] = useState<string | null>(null);
  const canStart = props.me.role !== "DESIGNER";

  const load = async () => {
    const query = new URLSearchParams({ limit: "100" });
    if (status) query.set("status", status);
    if (workflowId) query.set("workflow_id", workflowId);
    try {
      setRuns((await api<Page<Run>>(`/v1/runs?${query}`)).items);
      setError(null);
    } catch (e) {
      setError(errorText(e));
    }
  };

  useEffect(() => {
    load();
  }, [status, workflowId]);

  useEffect(() => {
    api<Page<Workflow>>("/v1/workflows?limit=100")
      .then((page) => setWorkflows(page.items))
      .catch(() => setWorkflows([]));
  }, []);

  // Starter and dates filter the loaded page (the API filters by status and workflow).
  const shown = useMemo(
    () =>
      (runs || []).filter(
        (r) =>
          (!starter || (r.started_by_id || "").includes(starter)) &&
          (!from || r.created_at >= from) &&
          (!to || r.created_at.slice(0, 10) <= to),
      ),
    [runs, starter, from, to],
  );
  const names = Object.fromEntries(workflows.map((w) => [w.id, w.name]));

  return (
    <section aria-labelledby="runs-title">
      <h1 id="runs-title">Runs</h1>
      <form className="filters" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Status
          <select aria-label="Status" value={status} onChange={(e) => setStatus(e.target.value)}>
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Workflow
          <select aria-label="Workflow" value={workflowId} onChange={(e) => setWorkflowId(e.target.value)}>
            <option value="">any</option>
            {workflows.map((w) => (
              <option key={w.id} value={w.id}>
                {w.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Starter id
          <input value={starter} onChange={(e) => setStarter(e.target.value)} />
        </label>
        <label>
          From
          <input type="date" value={from} onChange={(e) => setFrom(e.target.value)} />
        </label>
        <label>
          To
          <input type="date" value={to} onChange={(e) => setTo(e.target.value)} />
        </label>
        <button type="button" onClick={load}>
          Refresh
        </button>
      </form>
      {canStart && (
        <form
          className="start"
          aria-label="Start a run"
          onSubmit={async (event) => {
            event.preventDefault();
            setStartMessage(null);
            try {
              const input = JSON.parse(startInput || "{}");
              const run = await api<Run>("/v1/runs", { json: { workflow_id: workflowId, input } });
              setStartMessage(`Started run ${run.id}`);
              window.history.pushState(null, "", `/activity/${run.id}`);
              window.dispatchEvent(new PopStateEvent("popstate"));
            } catch (e) {
              setStartMessage(errorText(e));
            }
          }}
        >
          <label>
            Run input (JSON) for the selected workflow
            <input value={startInput} onChange={(e) => setStartInput(e.target.value)} />
          </label>
          <button type="submit" disabled={!workflowId}>
            Start run
          </button>
          {startMessage && <span role="status">{startMessage}</span>}
        </form>
      )}
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Run</th>
              <th scope="col">Workflow</th>
              <th scope="col">Status</th>
              <th scope="col">Starter</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((r) => (
              <tr key={r.id}>
                <td>
                  <Link to={`/activity/${r.id}`}>{r.id.slice(0, 12)}</Link>
                </td>
                <td>
                  {names[r.workflow_id] || r.workflow_id} v{r.workflow_version}
                </td>
                <td>
                  <span className={`badge s-${r.status}`}>{r.status}</span>
                </td>
                <td>{r.started_by_id?.slice(0, 12)}</td>
                <td>{new Date(r.created_at).toLocaleString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {runs && shown.length === 0 && <p>No runs match.</p>}
    </section>
  );
}
