import { useEffect, useState } from "react";
import { api, errorText, Me, Page } from "../api";
import { Link } from "../router";

interface Workflow {
  id: string;
  name: string;
  status: string;
  version: number;
  published_version: number | null;
  updated_at: string;
}

export function WorkflowList(props: { me: Me }) {
  const [items, setItems] = useState<Workflow[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api<Page<Workflow>>("/v1/workflows?limit=100")
      .then((p) => setItems(p.items))
      .catch((e) => setError(errorText(e)));
  }, []);
  return (
    <section aria-labelledby="wf-title">
      <h1 id="wf-title">Workflow Studio</h1>
      {props.me.role !== "OPERATOR" && <Link to="/workflows/new">New workflow</Link>}
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <ul className="cards">
        {items?.map((w) => (
          <li key={w.id}>
            <Link to={`/workflows/${w.id}`}>{w.name}</Link>
            <span className="muted">
              {" "}
              {w.status} · draft {w.version} · published {w.published_version ?? "never"}
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}
