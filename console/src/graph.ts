// The workflow definition JSON <-> canvas model, and what a node type's JSON Schema says about its
// config (which fields name other nodes: the routes drawn from config).
import type { Edge, Node } from "@xyflow/react";

export type JsonSchema = Record<string, any>;

export interface NodeTypeInfo {
  name: string;
  title: string;
  category: string;
  description: string;
  config_schema: JsonSchema;
  routing: "edges" | "config" | "dynamic";
  interrupts: string[];
  waits_for_all: boolean;
}

export interface NodeSpec {
  id: string;
  type: string;
  config: Record<string, any>;
  name?: string | null;
  ui?: { x?: number; y?: number } | null;
  [key: string]: unknown;
}

export interface StateField {
  type?: string;
  reducer?: string;
  required?: boolean;
  default?: unknown;
  description?: string | null;
}

export interface Definition {
  schema_version?: number;
  state: Record<string, StateField>;
  nodes: NodeSpec[];
  edges: { source: string; target: string }[];
  [key: string]: unknown;
}

function resolve(schema: JsonSchema, root: JsonSchema): JsonSchema {
  let current = schema;
  for (let guard = 0; current && current.$ref && guard < 10; guard++) {
    const name = String(current.$ref).split("/").pop() as string;
    current = (root.$defs || {})[name] || {};
  }
  if (current && current.anyOf) {
    const real = current.anyOf.find((s: JsonSchema) => s.type !== "null");
    if (real) return { ...resolve(real, root), default: current.default };
  }
  return current || {};
}

/** Where the config names other nodes: [{path, target}] (e.g. routes[0].to → "approve"). */
export function nodeRefs(schema: JsonSchema, config: unknown): { path: string; target: string }[] {
  const found: { path: string; target: string }[] = [];
  const walk = (s: JsonSchema, value: unknown, path: string) => {
    const node = resolve(s, schema);
    if (node["x-eawe"] === "node_ref" && typeof value === "string" && value) {
      found.push({ path, target: value });
    } else if (Array.isArray(value) && node.items) {
      value.forEach((item, i) => walk(node.items, item, `${path}[${i}]`));
    } else if (value && typeof value === "object" && node.properties) {
      for (const [key, sub] of Object.entries(node.properties)) {
        walk(sub as JsonSchema, (value as Record<string, unknown>)[key], path ? `${path}.${key}` : key);
      }
    }
  };
  walk(schema, config, "");
  return found;
}

/** Config after a connection is drawn from a config-routed node: fill an empty ref or add an item. */
export function connectInConfig(schema: JsonSchema, config: Record<string, any>, target: string): Record<string, any> | null {
  const props = resolve(schema, schema).properties || {};
  for (const [key, sub] of Object.entries(props)) {
    const field = resolve(sub as JsonSchema, schema);
    if (field["x-eawe"] === "node_ref" && !config[key]) return { ...config, [key]: target };
  }
  for (const [key, sub] of Object.entries(props)) {
    const field = resolve(sub as JsonSchema, schema);
    if (field.type === "array" && field.items) {
      const item = resolve(field.items, schema);
      const refKey = Object.entries(item.properties || {}).find(
        ([, p]) => resolve(p as JsonSchema, schema)["x-eawe"] === "node_ref",
      );
      if (refKey) return { ...config, [key]: [...(config[key] || []), { [refKey[0]]: target }] };
    }
  }
  return null;
}

export const START = "START";
export const END = "END";

export interface CanvasData extends Record<string, unknown> {
  label: string;
  type: string;
  state?: string;
  invalid?: boolean;
  detail?: string;
}

/** Longest-path layers from START: a readable default layout when a node has no saved position. */
function layers(definition: Definition, types: Record<string, NodeTypeInfo>): Record<string, number> {
  const out: Record<string, string[]> = {};
  const add = (a: string, b: string) => (out[a] = [...(out[a] || []), b]);
  definition.edges.forEach((e) => add(e.source, e.target));
  definition.nodes.forEach((n) => {
    const info = types[n.type];
    if (info) nodeRefs(info.config_schema, n.config).forEach((r) => add(n.id, r.target));
  });
  const depth: Record<string, number> = { [START]: 0 };
  const limit = definition.nodes.length + 1;
  for (let round = 0; round < limit; round++) {
    for (const [from, targets] of Object.entries(out)) {
      if (depth[from] === undefined) continue;
      for (const next of targets) {
        const d = Math.min(depth[from] + 1, limit);
        if (next !== END && (depth[next] === undefined || depth[next] < d)) depth[next] = d;
      }
    }
  }
  const maxDepth = Math.max(1, ...Object.values(depth));
  definition.nodes.forEach((n) => (depth[n.id] = depth[n.id] ?? maxDepth));
  depth[END] = Math.max(...definition.nodes.map((n) => depth[n.id] + 1), depth[END] ?? 0, 1);
  return depth;
}

export function toCanvas(
  definition: Definition,
  types: Record<string, NodeTypeInfo>,
): { nodes: Node<CanvasData>[]; edges: Edge[] } {
  const depth = layers(definition, types);
  const perLayer: Record<number, number> = {};
  const place = (id: string, ui?: { x?: number; y?: number } | null) => {
    if (ui && typeof ui.x === "number" && typeof ui.y === "number") return { x: ui.x, y: ui.y };
    const d = depth[id] ?? 0;
    const slot = (perLayer[d] = (perLayer[d] ?? -1) + 1);
    return { x: 80 + slot * 220, y: 40 + d * 110 };
  };
  // START above the highest node, END below the lowest (the definition stores no position for them).
  const ys = definition.nodes.map((n) => n.ui?.y).filter((y): y is number => typeof y === "number");
  const xs = definition.nodes.map((n) => n.ui?.x).filter((x): x is number => typeof x === "number");
  const anchorX = xs.length ? Math.min(...xs) : 80;
  const ui = {
    ui: {
      [START]: { x: anchorX, y: ys.length ? Math.min(...ys) - 110 : 0 },
      [END]: { x: anchorX, y: ys.length ? Math.max(...ys) + 110 : 440 },
    },
  };
  if (ys.length < definition.nodes.length) delete (ui.ui as Record<string, unknown>)[END];
  const nodes: Node<CanvasData>[] = [
    { id: START, type: "input", position: place(START, ui.ui?.[START]), data: { label: "START", type: START }, deletable: false },
    ...definition.nodes.map((n) => ({
      id: n.id,
      position: place(n.id, n.ui),
      data: { label: n.name || n.id, type: n.type },
    })),
    { id: END, type: "output", position: place(END, ui.ui?.[END]), data: { label: "END", type: END }, deletable: false },
  ];
  // A router's or fan-out's edges repeat targets its config names: draw the config's (labelled) only.
  const fromConfig = new Set<string>();
  definition.nodes.forEach((n) => {
    const info = types[n.type];
    if (info?.routing === "config")
      nodeRefs(info.config_schema, n.config).forEach((ref) => fromConfig.add(`${n.id}->${ref.target}`));
  });
  const edges: Edge[] = definition.edges
    .filter((e) => !fromConfig.has(`${e.source}->${e.target}`))
    .map((e) => ({
      id: `e:${e.source}->${e.target}`,
      source: e.source,
      target: e.target,
    }));
  definition.nodes.forEach((n) => {
    const info = types[n.type];
    if (!info) return;
    nodeRefs(info.config_schema, n.config).forEach((ref) =>
      edges.push({
        id: `c:${n.id}:${ref.path}`,
        source: n.id,
        target: ref.target,
        label: ref.path,
        animated: false,
        style: { strokeDasharray: "6 3" },
        data: { fromConfig: true, path: ref.path },
      }),
    );
  });
  return { nodes, edges };
}
