import { useEffect, useState } from "react";
import { api, errorText, Page } from "../api";
import { Link } from "../router";

const SECTIONS = [
  ["users", "Users"],
  ["keys", "API keys"],
  ["credentials", "Credentials"],
  ["documents", "Documents"],
  ["audit", "Audit log"],
];

function useList<T>(path: string): [T[] | null, string | null, () => void] {
  const [items, setItems] = useState<T[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = () =>
    api<Page<T>>(path)
      .then((p) => {
        setItems(p.items);
        setError(null);
      })
      .catch((e) => setError(errorText(e)));
  useEffect(() => {
    load();
  }, [path]);
  return [items, error, load];
}

function Problem(props: { text: string | null }) {
  return props.text ? (
    <p role="alert" className="error">
      {props.text}
    </p>
  ) : null;
}

export function Admin(props: { section: string }) {
  return (
    <div>
      <h1>Administration</h1>
      <nav aria-label="Admin sections" className="subnav">
        {SECTIONS.map(([id, label]) => (
          <Link key={id} to={`/admin/${id}`} ariaCurrent={props.section === id}>
            {label}
          </Link>
        ))}
      </nav>
      {props.section === "users" && <Users />}
      {props.section === "keys" && <Keys />}
      {props.section === "credentials" && <Credentials />}
      {props.section === "documents" && <Documents />}
      {props.section === "audit" && <Audit />}
    </div>
  );
}

interface User {
  id: string;
  email: string;
  name: string | null;
  role: string;
  groups: string[];
  is_active: boolean;
}

function Users() {
  const [users, error, reload] = useList<User>("/v1/users?limit=100");
  const [form, setForm] = useState({ email: "", password: "", name: "", role: "OPERATOR", groups: "" });
  const [message, setMessage] = useState<string | null>(null);
  return (
    <section aria-labelledby="users-title">
      <h2 id="users-title">Users</h2>
      <Problem text={error} />
      <table>
        <thead>
          <tr>
            <th scope="col">Email</th>
            <th scope="col">Name</th>
            <th scope="col">Role</th>
            <th scope="col">Groups</th>
            <th scope="col">Active</th>
          </tr>
        </thead>
        <tbody>
          {users?.map((u) => (
            <tr key={u.id}>
              <td>{u.email}</td>
              <td>{u.name}</td>
              <td>{u.role}</td>
              <td>{u.groups.join(", ")}</td>
              <td>{u.is_active ? "yes" : "no"}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <form
        className="stack"
        aria-label="Create a user"
        onSubmit={async (e) => {
          e.preventDefault();
          try {
            await api("/v1/users", {
              json: { ...form, groups: form.groups.split(",").map((g) => g.trim()).filter(Boolean) },
            });
            setMessage(`Created ${form.email}.`);
            reload();
          } catch (err) {
            setMessage(errorText(err));
          }
        }}
      >
        <h3>Create a user</h3>
        <label>
          Email <input type="email" required value={form.email} onChange={(e) => setForm({ ...form, email: e.target.value })} />
        </label>
        <label>
          Password <input type="password" required value={form.password} onChange={(e) => setForm({ ...form, password: e.target.value })} />
        </label>
        <label>
          Name <input value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} />
        </label>
        <label>
          Role
          <select value={form.role} onChange={(e) => setForm({ ...form, role: e.target.value })}>
            <option>OPERATOR</option>
            <option>DESIGNER</option>
            <option>ADMINISTRATOR</option>
          </select>
        </label>
        <label>
          Groups (comma-separated) <input value={form.groups} onChange={(e) => setForm({ ...form, groups: e.target.value })} />
        </label>
        <button type="submit">Create user</button>
        {message && <p role="status">{message}</p>}
      </form>
    </section>
  );
}

interface Key {
  id: string;
  name: string;
  prefix: string;
  user_id: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

function Keys() {
  const [keys, error, reload] = useList<Key>("/v1/api-keys?limit=100");
  const [name, setName] = useState("");
  const [shown, setShown] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  return (
    <section aria-labelledby="keys-title">
      <h2 id="keys-title">API keys</h2>
      <Problem text={error} />
      {shown && (
        <div role="status" className="ok">
          New key (shown once — copy it now): <code data-testid="new-key">{shown}</code>{" "}
          <button type="button" onClick={() => setShown(null)}>
            I have stored it
          </button>
        </div>
      )}
      <table>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Prefix</th>
            <th scope="col">Last used</th>
            <th scope="col">State</th>
            <th scope="col">
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {keys?.map((k) => (
            <tr key={k.id}>
              <td>{k.name}</td>
              <td>
                <code>{k.prefix}</code>
              </td>
              <td>{k.last_used_at ? new Date(k.last_used_at).toLocaleString() : "never"}</td>
              <td>{k.revoked_at ? "revoked" : "active"}</td>
              <td>
                {!k.revoked_at && (
                  <button
                    type="button"
                    onClick={async () => {
                      try {
                        await api(`/v1/api-keys/${k.id}`, { method: "DELETE" });
                        reload();
                      } catch (e) {
                        setMessage(errorText(e));
                      }
                    }}
                  >
                    Revoke {k.name}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form
        aria-label="Create an API key"
        onSubmit={async (e) => {
          e.preventDefault();
          try {
            const created = await api<{ key: string }>("/v1/api-keys", { json: { name } });
            setShown(created.key);
            setName("");
            reload();
          } catch (err) {
            setMessage(errorText(err));
          }
        }}
      >
        <label>
          Key name <input required value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <button type="submit">Create key</button>
      </form>
      {message && <p role="status">{message}</p>}
    </section>
  );
}

interface Credential {
  id: string;
  name: string;
  type: string;
  service_name: string;
  key_version: number;
  created_at: string;
}

function Credentials() {
  const [items, error, reload] = useList<Credential>("/v1/credentials?limit=100");
  const [form, setForm] = useState({ name: "", type: "API_KEY", service_name: "", value: "", hosts: "" });
  const [message, setMessage] = useState<string | null>(null);
  return (
    <section aria-labelledby="cred-title">
      <h2 id="cred-title">Credentials</h2>
      <p className="muted">Metadata only: a stored secret is never shown again.</p>
      <Problem text={error} />
      <table>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Type</th>
            <th scope="col">Service</th>
            <th scope="col">Key version</th>
            <th scope="col">Created</th>
          </tr>
        </thead>
        <tbody>
          {items?.map((c) => (
            <tr key={c.id}>
              <td>{c.name}</td>
              <td>{c.type}</td>
              <td>{c.service_name}</td>
              <td>{c.key_version}</td>
              <td>{new Date(c.created_at).toLocaleString()}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <form
        className="stack"
        aria-label="Store a credential"
        onSubmit={async (e) => {
          e.preventDefault();
          try {
            const { hosts, ...rest } = form;
            const allowed_hosts = hosts.split(",").map((h) => h.trim()).filter(Boolean);
            await api("/v1/credentials", { json: { ...rest, allowed_hosts } });
            setForm({ ...form, value: "" });
            setMessage("Stored.");
            reload();
          } catch (err) {
            setMessage(errorText(err));
          }
        }}
      >
        <label>
          Name <input value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} />
        </label>
        <label>
          Type <input required value={form.type} onChange={(e) => setForm({ ...form, type: e.target.value })} />
        </label>
        <label>
          Service <input required value={form.service_name} onChange={(e) => setForm({ ...form, service_name: e.target.value })} />
        </label>
        <label>
          Allowed hosts (comma-separated){" "}
          <input required placeholder="api.example.com, *.example.org" value={form.hosts} onChange={(e) => setForm({ ...form, hosts: e.target.value })} />
        </label>
        <label>
          Secret value{" "}
          <input type="password" autoComplete="off" required value={form.value} onChange={(e) => setForm({ ...form, value: e.target.value })} />
        </label>
        <button type="submit">Store credential</button>
        {message && <p role="status">{message}</p>}
      </form>
    </section>
  );
}

interface Doc {
  id: string;
  file_name: string;
  status: string;
  allowed_roles: string[];
  chunk_count: number | null;
  error: string | null;
}

function Documents() {
  const [items, error, reload] = useList<Doc>("/v1/documents?limit=100");
  const [groups, setGroups] = useState("");
  const [file, setFile] = useState<File | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  useEffect(() => {
    if (!items?.some((d) => d.status === "PENDING" || d.status === "INDEXING")) return;
    const timer = window.setTimeout(reload, 1500);
    return () => window.clearTimeout(timer);
  }, [items]);
  return (
    <section aria-labelledby="docs-title">
      <h2 id="docs-title">Documents</h2>
      <Problem text={error} />
      <table>
        <thead>
          <tr>
            <th scope="col">File</th>
            <th scope="col">Status</th>
            <th scope="col">Allowed groups</th>
            <th scope="col">Chunks</th>
          </tr>
        </thead>
        <tbody>
          {items?.map((d) => (
            <tr key={d.id}>
              <td>{d.file_name}</td>
              <td>
                {d.status}
                {d.error ? ` — ${d.error}` : ""}
              </td>
              <td>{d.allowed_roles.join(", ")}</td>
              <td>{d.chunk_count ?? ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <form
        aria-label="Upload a document"
        onSubmit={async (e) => {
          e.preventDefault();
          if (!file) return;
          const form = new FormData();
          form.append("file", file);
          form.append("allowed_roles", groups);
          try {
            await api("/v1/documents", { form });
            setMessage(`Uploaded ${file.name}; indexing.`);
            reload();
          } catch (err) {
            setMessage(errorText(err));
          }
        }}
      >
        <label>
          File <input type="file" required onChange={(e) => setFile(e.target.files?.[0] || null)} />
        </label>
        <label>
          Allowed groups (comma-separated) <input required value={groups} onChange={(e) => setGroups(e.target.value)} />
        </label>
        <button type="submit">Upload</button>
        {message && <p role="status">{message}</p>}
      </form>
    </section>
  );
}

interface AuditRow {
  id: string;
  seq: number;
  action: string;
  actor_type: string;
  actor_id: string | null;
  workflow_run_id: string | null;
  timestamp: string;
}

function Audit() {
  const [action, setAction] = useState("");
  const [runId, setRunId] = useState("");
  const query = new URLSearchParams({ limit: "100" });
  if (action) query.set("action", action);
  if (runId) query.set("workflow_run_id", runId);
  const [rows, error] = useList<AuditRow>(`/v1/audit-logs?${query}`);
  const [verdict, setVerdict] = useState<string | null>(null);
  return (
    <section aria-labelledby="audit-title">
      <h2 id="audit-title">Audit log</h2>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Audit filters">
        <label>
          Action <input value={action} onChange={(e) => setAction(e.target.value)} />
        </label>
        <label>
          Run id <input value={runId} onChange={(e) => setRunId(e.target.value)} />
        </label>
        <button
          type="button"
          onClick={async () => {
            try {
              const v = await api<{ ok: boolean; checked: number; reason: string | null }>("/v1/audit-logs/verify");
              setVerdict(v.ok ? `Chain intact: ${v.checked} entries checked.` : `Chain BROKEN: ${v.reason}`);
            } catch (e) {
              setVerdict(errorText(e));
            }
          }}
        >
          Verify chain
        </button>
      </form>
      {verdict && <p role="status">{verdict}</p>}
      <Problem text={error} />
      <table>
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">When</th>
            <th scope="col">Action</th>
            <th scope="col">Actor</th>
            <th scope="col">Run</th>
          </tr>
        </thead>
        <tbody>
          {rows?.map((r) => (
            <tr key={r.id}>
              <td>{r.seq}</td>
              <td>{new Date(r.timestamp).toLocaleString()}</td>
              <td>{r.action}</td>
              <td>
                {r.actor_type} {r.actor_id?.slice(0, 10)}
              </td>
              <td>{r.workflow_run_id ? <Link to={`/activity/${r.workflow_run_id}`}>{r.workflow_run_id.slice(0, 10)}</Link> : ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
