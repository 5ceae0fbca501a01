import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Background, Controls, ReactFlow, type Node } from "@xyflow/react";
import { api, errorText, Me, Page } from "../api";
import { Link } from "../router";
import { followRun, RunEvent } from "../sse";
import { CanvasData, Definition, END, NodeTypeInfo, START, toCanvas } from "../graph";
import type { Run } from "./RunList";
import { Value } from "./Value";

interface Checkpoint {
  values: Record<string, unknown>;
  next: string[];
  created_at: string | null;
  checkpoint_id: string | null;
  metadata: { step?: number; source?: string };
}

interface Step {
  nodes: string[];
  started: string;
  finished: string | null;
  values: Record<string, unknown> | null;
  checkpoint: string | null;
}

const TERMINAL = ["COMPLETED", "FAILED", "CANCELLED"];

/** Checkpoints oldest first: the nodes in one checkpoint's `next` ran until the following one. */
function steps(history: Checkpoint[]): Step[] {
  const ordered = [...history].reverse();
  const out: Step[] = [];
  ordered.forEach((cp, i) => {
    const after = ordered[i + 1];
    const nodes = cp.next.filter((n) => n !== "__start__");
    if (nodes.length && cp.created_at)
      out.push({
        nodes,
        started: cp.created_at,
        finished: after?.created_at ?? null,
        values: after?.values ?? null,
        checkpoint: after?.checkpoint_id ?? null,
      });
  });
  return out;
}

function ms(a: string, b: string | null): string {
  if (!b) return "…";
  const d = new Date(b).getTime() - new Date(a).getTime();
  return d < 1000 ? `${d} ms` : `${(d / 1000).toFixed(2)} s`;
}

export function RunView(props: { runId: string; me: Me }) {
  const [run, setRun] = useState<Run | null>(null);
  const [definition, setDefinition] = useState<Definition | null>(null);
  const [types, setTypes] = useState<Record<string, NodeTypeInfo>>({});
  const [history, setHistory] = useState<Checkpoint[]>([]);
  const [events, setEvents] = useState<RunEvent[]>([]);
  const [streamState, setStreamState] = useState("connecting");
  const [error, setError] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [selected, setSelected] = useState<number | null>(null);
  const refreshTimer = useRef<number | undefined>(undefined);

  const refresh = useCallback(async () => {
    try {
      const loaded = await api<Run>(`/v1/runs/${props.runId}`);
      setRun(loaded);
      if (loaded.content_visible) {
        try {
          // The run's checkpoints, from its thread (the run id when the run reports no thread).
          const thread = loaded.thread_id || props.runId;
          setHistory(await api<Checkpoint[]>(`/threads/${encodeURIComponent(thread)}/history?limit=100`));
        } catch {
          setHistory([]);
        }
      }
      return loaded;
    } catch (e) {
      setError(errorText(e));
      return null;
    }
  }, [props.runId]);

  useEffect(() => {
    let stop: (() => void) | undefined;
    (async () => {
      const loaded = await refresh();
      if (!loaded) return;
      try {
        const [version, nodeTypes] = await Promise.all([
          api<{ definition_graph: Definition }>(`/v1/workflows/${loaded.workflow_id}/versions/${loaded.workflow_version}`),
          api<Page<NodeTypeInfo>>("/v1/node-types"),
        ]);
        setTypes(Object.fromEntries(nodeTypes.items.map((t) => [t.name, t])));
        setDefinition(version.definition_graph);
      } catch (e) {
        setError(errorText(e));
      }
      stop = followRun(
        props.runId,
        (event) => {
          setStreamState("live");
          setEvents((list) => [...list, event]);
          window.clearTimeout(refreshTimer.current);
          refreshTimer.current = window.setTimeout(refresh, 150);
        },
        (endError) => setStreamState(endError ? `ended: ${endError}` : "ended"),
      );
    })();
    return () => {
      stop?.();
      window.clearTimeout(refreshTimer.current);
    };
  }, [props.runId, refresh]);

  const nodeStates = useMemo(() => {
    const state: Record<string, string> = {};
    steps(history).forEach((s) => s.finished && s.nodes.forEach((n) => (state[n] = "done")));
    events.forEach((e) => {
      const node = e.data.node_id as string | undefined;
      if (e.type === "node.finished" && node) state[node] = "done";
      if (e.type === "task.created" && node) state[node] = "waiting";
    });
    if (run) {
      const next = run.state?.next || [];
      if (run.status === "RUNNING" || run.status === "PENDING") next.forEach((n) => (state[n] = "running"));
      if (run.status === "PAUSED_FOR_APPROVAL") next.forEach((n) => (state[n] = "waiting"));
      if (run.error?.node_id && (run.status === "FAILED" || run.status === "PAUSED_WITH_ERROR"))
        state[run.error.node_id] = "failed";
      if (run.status === "COMPLETED") state[END] = "done";
      state[START] = "done";
    }
    return state;
  }, [history, events, run]);

  const canvas = useMemo(() => {
    if (!definition) return null;
    const { nodes, edges } = toCanvas(definition, types);
    return {
      nodes: nodes.map((n: Node<CanvasData>) => {
        const s = nodeStates[n.id] || "pending";
        return {
          ...n,
          draggable: false,
          connectable: false,
          className: `run-node st-${s}`,
          data: { ...n.data, label: `${n.data.label} · ${s}` },
          ariaLabel: `${n.id}: ${s}`,
        };
      }),
      edges,
    };
  }, [definition, types, nodeStates]);

  const control = async (action: "cancel" | "retry") => {
    setMessage(null);
    try {
      setRun(await api<Run>(`/v1/runs/${props.runId}/${action}`, { method: "POST" }));
      setMessage(action === "cancel" ? "Cancel requested." : "Retry queued.");
    } catch (e) {
      setMessage(errorText(e));
    }
  };

  if (error && !run)
    return (
      <p role="alert" className="error">
        {error}
      </p>
    );
  if (!run) return <p className="loading">Loading…</p>;
  const timeline = steps(history);

  return (
    <section aria-labelledby="run-title" className="run-view">
      <h1 id="run-title">
        Run {run.id.slice(0, 12)} <span className={`badge s-${run.status}`} data-testid="run-status">{run.status}</span>
      </h1>
      <p className="muted">
        workflow {run.workflow_id} v{run.workflow_version} · attempts {run.attempts} · stream{" "}
        <span data-testid="stream-state">{streamState}</span>
      </p>
      <div className="buttons">
        {!TERMINAL.includes(run.status) && props.me.role !== "DESIGNER" && (
          <button type="button" onClick={() => control("cancel")}>
            Cancel run
          </button>
        )}
        {run.status === "PAUSED_WITH_ERROR" && props.me.role !== "DESIGNER" && (
          <button type="button" onClick={() => control("retry")}>
            Retry
          </button>
        )}
        {run.pending_tasks?.map((t) => (
          <Link key={t} to={`/inbox/${t}`}>
            Open approval task
          </Link>
        ))}
      </div>
      {message && <p role="status">{message}</p>}
      {run.error && (
        <div role="alert" className="error">
          <strong>{run.error.type || run.error.kind || "Error"}</strong> at {run.error.node_id || "?"}: {run.error.message}
        </div>
      )}
      <div className="run-grid">
        <div className="canvas small" aria-label="Run graph">
          {canvas && (
            <ReactFlow nodes={canvas.nodes} edges={canvas.edges} fitView nodesDraggable={false} nodesConnectable={false}>
              <Background />
              <Controls showInteractive={false} />
            </ReactFlow>
          )}
        </div>
        <div>
          <h2>Timeline</h2>
          {!run.content_visible && <p>Only the run's status is visible to you.</p>}
          <ol className="timeline" data-testid="timeline">
            {timeline.map((s, i) => (
              <li key={i}>
                <button type="button" className="link" onClick={() => setSelected(i)} aria-pressed={selected === i}>
                  {s.nodes.join(", ")} — {ms(s.started, s.finished)}
                </button>
              </li>
            ))}
          </ol>
          {selected !== null && timeline[selected]?.values && (
            <>
              <h3>State after {timeline[selected].nodes.join(", ")}</h3>
              <Value value={timeline[selected].values} />
            </>
          )}
          <h2>Events</h2>
          <ol className="events">
            {events.map((e, i) => (
              <li key={i}>
                {new Date(e.at).toLocaleTimeString()} {e.type}{" "}
                {String(e.data.node_id || e.data.status || "")}
              </li>
            ))}
          </ol>
          {run.payload != null && (
            <>
              <h2>Result</h2>
              <Value value={run.payload} />
            </>
          )}
        </div>
      </div>
    </section>
  );
}
