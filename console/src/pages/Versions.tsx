import { useEffect, useState } from "react";
import { api, errorText, Page } from "../api";
import type { Definition } from "../graph";
import { SideBySide } from "./SideBySide";

interface Version {
  version: number;
  graph_hash: string;
  published_at: string;
  definition_graph: Definition;
}

/** JSON with object keys sorted, so a diff shows changes, not key order. */
function stableJson(value: unknown): string {
  const sort = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sort)
      : v && typeof v === "object"
        ? Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, sort((v as Record<string, unknown>)[k])]))
        : v;
  return JSON.stringify(sort(value), null, 2);
}

export function Versions(props: { workflowId: string; current: Definition }) {
  const [versions, setVersions] = useState<Version[]>([]);
  const [left, setLeft] = useState("");
  const [right, setRight] = useState("draft");
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api<Page<Version>>(`/v1/workflows/${props.workflowId}/versions?limit=100`)
      .then((p) => {
        setVersions(p.items);
        if (p.items.length) setLeft(String(p.items[p.items.length - 1].version));
      })
      .catch((e) => setError(errorText(e)));
  }, [props.workflowId]);
  const text = (which: string) => {
    const graph = which === "draft" ? props.current : versions.find((v) => String(v.version) === which)?.definition_graph;
    return graph ? stableJson(graph) : "";
  };
  return (
    <section aria-labelledby="versions-title">
      <h2 id="versions-title">Versions</h2>
      {error && <p className="error">{error}</p>}
      <ul>
        {versions.map((v) => (
          <li key={v.version}>
            v{v.version} · {new Date(v.published_at).toLocaleString()} · <code>{v.graph_hash.slice(0, 10)}</code>
          </li>
        ))}
      </ul>
      {versions.length > 0 && (
        <>
          <label>
            Compare
            <select value={left} onChange={(e) => setLeft(e.target.value)}>
              {versions.map((v) => (
                <option key={v.version} value={v.version}>
                  v{v.version}
                </option>
              ))}
            </select>
          </label>
          <label>
            with
            <select value={right} onChange={(e) => setRight(e.target.value)}>
              <option value="draft">draft</option>
              {versions.map((v) => (
                <option key={v.version} value={v.version}>
                  v{v.version}
                </option>
              ))}
            </select>
          </label>
          <SideBySide before={text(left)} after={text(right)} beforeLabel={left === "draft" ? "draft" : `v${left}`} afterLabel={right === "draft" ? "draft" : `v${right}`} />
        </>
      )}
    </section>
  );
}
