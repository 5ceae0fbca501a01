// The console talks only to the public API. The access token lives in sessionStorage (one tab's
// sign-in); every call sends it as a Bearer header. Errors arrive as application/problem+json.

export type Role = "ADMINISTRATOR" | "DESIGNER" | "OPERATOR";

export interface Me {
  id: string;
  email: string;
  name: string | null;
  role: Role;
  groups: string[];
  tenant_id: string;
}

export interface FieldProblem {
  field: string;
  message: string;
  node_id?: string;
}

export class ApiError extends Error {
  status: number;
  title: string;
  errors: FieldProblem[];

  constructor(status: number, title: string, detail: string, errors: FieldProblem[]) {
    super(detail || title);
    this.status = status;
    this.title = title;
    this.errors = errors;
  }
}

const TOKEN_KEY = "eawe.token";

export function getToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token: string | null): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

let onUnauthorized: () => void = () => {};
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

async function problem(response: Response): Promise<ApiError> {
  let body: { title?: string; detail?: string; errors?: FieldProblem[] } = {};
  try {
    body = await response.json();
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(
    response.status,
    body.title || response.statusText,
    body.detail || body.title || response.statusText,
    body.errors || [],
  );
}

export function authHeaders(): Record<string, string> {
  const token = getToken();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

export async function api<T>(
  path: string,
  options: { method?: string; json?: unknown; form?: FormData | URLSearchParams } = {},
): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json", ...authHeaders() };
  let body: BodyInit | undefined;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.json);
  } else if (options.form) {
    body = options.form;
  }
  const response = await fetch(path, { method: options.method || (body ? "POST" : "GET"), headers, body });
  if (response.status === 401 && path !== "/v1/auth/token") {
    setToken(null);
    onUnauthorized();
  }
  if (!response.ok) throw await problem(response);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

export async function signIn(email: string, password: string): Promise<void> {
  const form = new URLSearchParams({ username: email, password });
  const out = await api<{ access_token: string }>("/v1/auth/token", { form });
  setToken(out.access_token);
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export function errorText(error: unknown): string {
  if (error instanceof ApiError) {
    const fields = error.errors.map((e) => `${e.field}: ${e.message}`).join("; ");
    return `${error.status} ${error.title}: ${error.message}${fields ? ` (${fields})` : ""}`;
  }
  return String(error);
}
