// Adapting a node type's JSON Schema for rjsf, and server problems to rjsf's error shape.
import type { ErrorSchema } from "@rjsf/utils";
import type { FieldProblem } from "./api";
import type { JsonSchema } from "./graph";

/** `anyOf: [T, null]` (pydantic's Optional) becomes T, so the form shows one input, not a chooser. */
export function formSchema(schema: JsonSchema): JsonSchema {
  const walk = (value: any): any => {
    if (Array.isArray(value)) return value.map(walk);
    if (!value || typeof value !== "object") return value;
    if (Array.isArray(value.anyOf)) {
      const real = value.anyOf.filter((s: JsonSchema) => s.type !== "null");
      if (real.length === 1 && real.length < value.anyOf.length) {
        const { anyOf: _drop, default: fallback, ...rest } = value;
        return walk({ ...real[0], ...rest, ...(fallback === null ? {} : { default: fallback }) });
      }
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = walk(v);
    return out;
  };
  const { title: _title, description: _description, ...root } = walk(schema);
  return root;
}

/** Path after `config` in a problem's field (`nodes[2].config.routes[0].to` → ["routes", "0", "to"]). */
export function configPath(field: string): string[] | null {
  const match = field.match(/nodes\[\d+\]\.config(?:\.|\[|$)(.*)$/);
  if (!match) return null;
  const rest = field.slice(field.indexOf(".config") + ".config".length);
  return rest
    .replace(/\[(\d+)\]/g, ".$1")
    .split(".")
    .filter(Boolean);
}

export function errorSchema(problems: FieldProblem[]): ErrorSchema {
  const root: any = {};
  for (const p of problems) {
    const path = configPath(p.field);
    if (!path) continue;
    let at = root;
    for (const part of path) at = at[part] = at[part] || {};
    at.__errors = [...(at.__errors || []), p.message];
  }
  return root;
}

/** Drop undefined values rjsf leaves for empty inputs (they are not JSON). */
export function clean(value: unknown): any {
  return JSON.parse(JSON.stringify(value ?? {}));
}
