import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import {
  Background,
  Controls,
  type Connection,
  type Edge,
  type Node,
  ReactFlow,
  ReactFlowProvider,
  useNodesState,
  useReactFlow,
} from "@xyflow/react";
import Form from "@rjsf/core";
import validator from "@rjsf/validator-ajv8";
import { api, ApiError, errorText, FieldProblem, Page } from "../api";
import { navigate } from "../router";
import { CanvasData, connectInConfig, Definition, END, NodeTypeInfo, START, toCanvas } from "../graph";
import { clean, errorSchema, formSchema } from "../schemaForms";
import { StateFields } from "./StateFields";
import { Versions } from "./Versions";

interface Workflow {
  id: string;
  name: string;
  description: string | null;
  status: string;
  version: number;
  published_version: number | null;
  definition_graph: Definition;
}

const EMPTY: Definition = {
  schema_version: 1,
  state: { question: { type: "string", required: true }, answer: { type: "string" } },
  nodes: [],
  edges: [],
};

export function Studio(props: { workflowId: string | null }) {
  return (
    <ReactFlowProvider>
      <StudioInner workflowId={props.workflowId} />
    </ReactFlowProvider>
  );
}

function StudioInner(props: { workflowId: string | null }) {
  const [types, setTypes] = useState<Record<string, NodeTypeInfo>>({});
  const [workflow, setWorkflow] = useState<Workflow | null>(null);
  const [name, setName] = useState("New workflow");
  const [definition, setDefinition] = useState<Definition>(EMPTY);
  const [problems, setProblems] = useState<FieldProblem[]>([]);
  const [valid, setValid] = useState<boolean | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [nodes, setNodes, onNodesChange] = useNodesState<Node<CanvasData>>([]);
  const flow = useReactFlow();
  const wrapper = useRef<HTMLDivElement>(null);
  const fileInput = useRef<HTMLInputElement>(null);

  useEffect(() => {
    api<Page<NodeTypeInfo>>("/v1/node-types")
      .then((p) => setTypes(Object.fromEntries(p.items.map((t) => [t.name, t]))))
      .catch((e) => setLoadError(errorText(e)));
    if (props.workflowId)
      api<Workflow>(`/v1/workflows/${props.workflowId}`)
        .then((w) => {
          setWorkflow(w);
          setName(w.name);
          setDefinition(w.definition_graph);
        })
        .catch((e) => setLoadError(errorText(e)));
  }, [props.workflowId]);

  // Live validation: the server's own validator (and test-compile), debounced; a stale answer
  // (an older definition's) is dropped.
  const validation = useRef(0);
  useEffect(() => {
    const ticket = ++validation.current;
    setValid(null);
    const timer = window.setTimeout(async () => {
      try {
        await api("/v1/workflows/validate", { json: { definition_graph: definition } });
        if (ticket !== validation.current) return;
        setProblems([]);
        setValid(true);
      } catch (e) {
        if (ticket !== validation.current) return;
        setValid(false);
        setProblems(e instanceof ApiError ? (e.errors.length ? e.errors : [{ field: "", message: e.message }]) : []);
      }
    }, 350);
    return () => window.clearTimeout(timer);
  }, [definition]);

  const badNodes = useMemo(() => new Set(problems.map((p) => p.node_id).filter(Boolean)), [problems]);

  // Canvas nodes follow the definition; positions and measurements stay with the canvas.
  useEffect(() => {
    const { nodes: fresh } = toCanvas(definition, types);
    setNodes((previous) => {
      const before = Object.fromEntries(previous.map((n) => [n.id, n]));
      return fresh.map((n) => {
        const old = before[n.id];
        const info = types[n.data.type];
        const invalid = badNodes.has(n.id);
        return {
          ...(old || {}),
          ...n,
          position: old && (n.id === START || n.id === END) ? old.position : n.position,
          selected: n.id === selected,
          className: `studio-node${invalid ? " invalid" : ""}`,
          ariaLabel: `${n.id}${info ? ` (${info.title})` : ""}${invalid ? ", has errors" : ""}`,
          data: { ...n.data, label: info ? `${n.data.label} · ${info.title}` : n.data.label, invalid },
        } as Node<CanvasData>;
      });
    });
  }, [definition, types, badNodes, selected, setNodes]);

  const edges: Edge[] = useMemo(() => toCanvas(definition, types).edges, [definition, types]);

  const update = useCallback((change: (d: Definition) => Definition) => setDefinition((d) => change(structuredClone(d))), []);

  const addNode = (type: string, position: { x: number; y: number }) => {
    let n = 1;
    const ids = new Set(definition.nodes.map((x) => x.id));
    while (ids.has(`${type}_${n}`)) n++;
    const id = `${type}_${n}`;
    update((d) => ({ ...d, nodes: [...d.nodes, { id, type, config: {}, ui: { x: Math.round(position.x), y: Math.round(position.y) } }] }));
    setSelected(id);
  };

  const onConnect = (c: Connection) => {
    if (!c.source || !c.target) return;
    const source = definition.nodes.find((n) => n.id === c.source);
    const info = source && types[source.type];
    if (source && info && info.routing === "config") {
      const config = connectInConfig(info.config_schema, source.config, c.target);
      if (config) {
        update((d) => ({ ...d, nodes: d.nodes.map((n) => (n.id === source.id ? { ...n, config } : n)) }));
        setSelected(source.id);
        return;
      }
    }
    if (definition.edges.some((e) => e.source === c.source && e.target === c.target)) return;
    update((d) => ({ ...d, edges: [...d.edges, { source: c.source as string, target: c.target as string }] }));
  };

  const removeEdges = (gone: Edge[]) =>
    update((d) => {
      for (const edge of gone) {
        const path = (edge.data as { path?: string } | undefined)?.path;
        if (!path) {
          d.edges = d.edges.filter((e) => !(e.source === edge.source && e.target === edge.target));
          continue;
        }
        const node = d.nodes.find((n) => n.id === edge.source);
        if (!node) continue;
        const item = path.match(/^(\w+)\[(\d+)\]\./);
        if (item) node.config[item[1]] = (node.config[item[1]] || []).filter((_: unknown, i: number) => i !== Number(item[2]));
        else delete node.config[path];
      }
      return d;
    });

  const removeNodes = (gone: Node[]) => {
    const ids = new Set(gone.map((n) => n.id));
    update((d) => ({
      ...d,
      nodes: d.nodes.filter((n) => !ids.has(n.id)),
      edges: d.edges.filter((e) => !ids.has(e.source) && !ids.has(e.target)),
    }));
    if (selected && ids.has(selected)) setSelected(null);
  };

  const save = async (): Promise<Workflow | null> => {
    setMessage(null);
    try {
      const body = { name, definition_graph: definition };
      const saved = workflow
        ? await api<Workflow>(`/v1/workflows/${workflow.id}`, { method: "PATCH", json: body })
        : await api<Workflow>("/v1/workflows", { json: body });
      setWorkflow(saved);
      setMessage(`Draft saved (edit ${saved.version}).`);
      if (!workflow) window.history.replaceState(null, "", `/workflows/${saved.id}`);
      return saved;
    } catch (e) {
      if (e instanceof ApiError && e.errors.length) setProblems(e.errors);
      setMessage(errorText(e));
      return null;
    }
  };

  const publish = async () => {
    const saved = await save();
    if (!saved) return;
    try {
      const version = await api<{ version: number }>(`/v1/workflows/${saved.id}/publish`, { method: "POST" });
      setMessage(`Published version ${version.version}.`);
      setWorkflow(await api<Workflow>(`/v1/workflows/${saved.id}`));
    } catch (e) {
      setMessage(errorText(e));
    }
  };

  const exportJson = () => {
    const blob = new Blob([JSON.stringify(definition, null, 2) + "\n"], { type: "application/json" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = `${name.replace(/[^\w-]+/g, "_") || "workflow"}.json`;
    link.click();
    URL.revokeObjectURL(link.href);
  };

  const importJson = async (file: File) => {
    try {
      const parsed = JSON.parse(await file.text());
      const graph = parsed.definition_graph || parsed;
      if (!Array.isArray(graph.nodes)) throw new Error("not a workflow definition: no nodes list");
      setNodes([]); // START and END are placed afresh around the imported nodes
      setDefinition({ ...EMPTY, ...graph, edges: graph.edges || [], state: graph.state || {} });
      window.setTimeout(() => flow.fitView({ maxZoom: 1 }), 100);
      if (parsed.name) setName(parsed.name);
      setMessage(`Imported ${file.name}.`);
    } catch (e) {
      setMessage(`Import failed: ${String(e)}`);
    }
  };

  const byCategory = useMemo(() => {
    const groups: Record<string, NodeTypeInfo[]> = {};
    Object.values(types).forEach((t) => (groups[t.category] = [...(groups[t.category] || []), t]));
    return Object.entries(groups).sort(([a], [b]) => a.localeCompare(b));
  }, [types]);

  const node = definition.nodes.find((n) => n.id === selected) || null;
  const nodeInfo = node ? types[node.type] : undefined;
  const nodeProblems = problems.filter((p) => node && p.node_id === node.id);

  return (
    <div className="studio">
      <div className="toolbar" role="toolbar" aria-label="Workflow">
        <label>
          Name <input value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <span className="muted">
          {workflow ? `${workflow.status} · draft ${workflow.version} · published ${workflow.published_version ?? "never"}` : "not saved"}
        </span>
        <button type="button" onClick={save}>
          Save draft
        </button>
        <button type="button" onClick={publish} disabled={valid === false}>
          Publish
        </button>
        <button type="button" onClick={exportJson}>
          Export JSON
        </button>
        <button type="button" onClick={() => fileInput.current?.click()}>
          Import JSON
        </button>
        <input
          ref={fileInput}
          type="file"
          accept="application/json,.json"
          hidden
          aria-label="Import a workflow JSON file"
          onChange={(e) => e.target.files?.[0] && importJson(e.target.files[0])}
        />
        <button type="button" className="link" onClick={() => navigate("/workflows")}>
          All workflows
        </button>
      </div>
      {loadError && (
        <p role="alert" className="error">
          {loadError}
        </p>
      )}
      {message && (
        <p role="status" className="message">
          {message}
        </p>
      )}
      <div className="studio-body">
        <aside className="palette" aria-label="Node types">
          <h2>Palette</h2>
          {byCategory.map(([category, list]) => (
            <section key={category}>
              <h3>{category}</h3>
              <ul>
                {list.map((t) => (
                  <li key={t.name}>
                    <div
                      className="palette-item"
                      draggable
                      data-type={t.name}
                      title={t.description}
                      onDragStart={(e) => {
                        e.dataTransfer.setData("application/eawe-node-type", t.name);
                        e.dataTransfer.effectAllowed = "move";
                      }}
                    >
                      {t.title}
                      <button
                        type="button"
                        className="add"
                        aria-label={`Add ${t.title}`}
                        onClick={() => addNode(t.name, flow.screenToFlowPosition({ x: 500, y: 300 }))}
                      >
                        +
                      </button>
                    </div>
                  </li>
                ))}
              </ul>
            </section>
          ))}
        </aside>
        <div
          className="canvas"
          ref={wrapper}
          data-testid="canvas"
          onDragOver={(e) => {
            e.preventDefault();
            e.dataTransfer.dropEffect = "move";
          }}
          onDrop={(e) => {
            e.preventDefault();
            const type = e.dataTransfer.getData("application/eawe-node-type");
            if (type) addNode(type, flow.screenToFlowPosition({ x: e.clientX, y: e.clientY }));
          }}
        >
          <ReactFlow
            nodes={nodes}
            edges={edges}
            onNodesChange={onNodesChange}
            onConnect={onConnect}
            onNodesDelete={removeNodes}
            onEdgesDelete={removeEdges}
            onEdgesChange={() => undefined}
            onNodeClick={(_, n) => setSelected(n.id === START || n.id === END ? null : n.id)}
            onPaneClick={() => setSelected(null)}
            onNodeDragStop={(_, n) =>
              update((d) => ({
                ...d,
                nodes: d.nodes.map((x) => (x.id === n.id ? { ...x, ui: { ...(x.ui || {}), x: Math.round(n.position.x), y: Math.round(n.position.y) } } : x)),
              }))
            }
            fitView
            fitViewOptions={{ maxZoom: 1 }}
            deleteKeyCode={["Delete", "Backspace"]}
          >
            <Background />
            <Controls />
          </ReactFlow>
        </div>
        <aside className="inspector" aria-label="Inspector">
          <div className={`validity ${valid === null ? "pending" : valid ? "ok" : "bad"}`} role="status" data-testid="validity">
            {valid === null ? "Validating…" : valid ? "Valid ✓" : `${problems.length} problem(s)`}
          </div>
          {problems.length > 0 && (
            <ul className="problems" aria-label="Validation problems">
              {problems.map((p, i) => (
                <li key={i}>
                  {p.node_id ? (
                    <button type="button" className="link" onClick={() => setSelected(p.node_id!)}>
                      {p.node_id}
                    </button>
                  ) : null}{" "}
                  <code>{p.field}</code>: {p.message}
                </li>
              ))}
            </ul>
          )}
          {node && nodeInfo ? (
            <section aria-labelledby="node-title" className="node-form">
              <h2 id="node-title">
                {node.id} <span className="muted">({nodeInfo.title})</span>
              </h2>
              <p className="muted">{nodeInfo.description}</p>
              <label>
                Display name
                <input
                  value={node.name || ""}
                  onChange={(e) =>
                    update((d) => ({ ...d, nodes: d.nodes.map((x) => (x.id === node.id ? { ...x, name: e.target.value || null } : x)) }))
                  }
                />
              </label>
              {nodeProblems.length > 0 && <p className="error">This node has {nodeProblems.length} problem(s).</p>}
              <Form
                key={node.id}
                schema={formSchema(nodeInfo.config_schema)}
                formData={node.config}
                validator={validator}
                idPrefix={`cfg_${node.id}`}
                extraErrors={errorSchema(nodeProblems)}
                showErrorList={false}
                uiSchema={{ "ui:submitButtonOptions": { norender: true }, "ui:title": "Config" }}
                onChange={(e) =>
                  update((d) => ({ ...d, nodes: d.nodes.map((x) => (x.id === node.id ? { ...x, config: clean(e.formData) } : x)) }))
                }
              />
            </section>
          ) : (
            <p className="muted">Select a node to edit its config. Drag node types from the palette; connect handles to draw edges.</p>
          )}
          <StateFields state={definition.state} onChange={(state) => update((d) => ({ ...d, state }))} />
          {workflow && <Versions workflowId={workflow.id} current={definition} key={workflow.published_version ?? 0} />}
        </aside>
      </div>
    </div>
  );
}
