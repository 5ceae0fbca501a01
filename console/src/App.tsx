import { useCallback, useEffect, useState } from "react";
import { api, errorText, getToken, Me, Role, setToken, setUnauthorizedHandler } from "./api";
import { Link, navigate, usePath } from "./router";
import { SignIn } from "./pages/SignIn";
import { Inbox } from "./pages/Inbox";
import { RunList } from "./pages/RunList";
import { RunView } from "./pages/RunView";
import { Studio } from "./pages/Studio";
import { WorkflowList } from "./pages/WorkflowList";
import { Admin } from "./pages/Admin";

// Client routes never start with an API prefix (/v1, /runs, /threads, ...: see server/console).
// What each role is offered. The API enforces the same matrix; hiding a link is a convenience only.
const NAV: { to: string; label: string; roles: Role[] }[] = [
  { to: "/inbox", label: "Approval inbox", roles: ["OPERATOR", "ADMINISTRATOR"] },
  { to: "/activity", label: "Runs", roles: ["OPERATOR", "DESIGNER", "ADMINISTRATOR"] },
  { to: "/workflows", label: "Workflow Studio", roles: ["DESIGNER", "ADMINISTRATOR"] },
  { to: "/admin", label: "Admin", roles: ["ADMINISTRATOR"] },
];

function home(role: Role): string {
  return role === "DESIGNER" ? "/workflows" : role === "OPERATOR" ? "/inbox" : "/activity";
}

function Redirect(props: { to: string }) {
  useEffect(() => navigate(props.to), [props.to]);
  return null;
}

export function App() {
  const path = usePath();
  const [me, setMe] = useState<Me | null>(null);
  const [error, setError] = useState<string | null>(null);

  const loadMe = useCallback(async () => {
    if (!getToken()) {
      setMe(null);
      return;
    }
    try {
      setMe(await api<Me>("/v1/users/me"));
    } catch (e) {
      setError(errorText(e));
    }
  }, []);

  useEffect(() => {
    setUnauthorizedHandler(() => {
      setMe(null);
      navigate("/login");
    });
    loadMe();
  }, [loadMe]);

  if (!getToken() || !me) {
    if (getToken() && !error) return <p className="loading">Loading…</p>;
    return (
      <SignIn
        onSignedIn={async () => {
          setError(null);
          const user = await api<Me>("/v1/users/me");
          setMe(user);
          if (path === "/" || path === "/login") navigate(home(user.role));
        }}
      />
    );
  }

  const signOut = () => {
    setToken(null);
    setMe(null);
    navigate("/login");
  };

  let page: React.ReactNode;
  const parts = path.split("/").filter(Boolean);
  if (parts.length === 0 || parts[0] === "login") page = <Redirect to={home(me.role)} />;
  else if (parts[0] === "inbox") page = <Inbox me={me} taskId={parts[1]} />;
  else if (parts[0] === "activity" && parts[1]) page = <RunView runId={parts[1]} me={me} />;
  else if (parts[0] === "activity") page = <RunList me={me} />;
  else if (parts[0] === "workflows" && parts[1]) page = <Studio workflowId={parts[1] === "new" ? null : parts[1]} key={parts[1]} />;
  else if (parts[0] === "workflows") page = <WorkflowList me={me} />;
  else if (parts[0] === "admin") page = <Admin section={parts[1] || "users"} />;
  else page = <p>Page not found.</p>;

  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">EAWE</span>
        <nav aria-label="Main">
          {NAV.filter((item) => item.roles.includes(me.role)).map((item) => (
            <Link key={item.to} to={item.to} ariaCurrent={path.startsWith(item.to)}>
              {item.label}
            </Link>
          ))}
        </nav>
        <span className="who">
          <span data-testid="who">
            {me.email} · {me.role}
          </span>
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </span>
      </header>
      <main id="main" tabIndex={-1}>
        {page}
      </main>
    </div>
  );
}
