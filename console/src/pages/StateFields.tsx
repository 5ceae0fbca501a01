import { useState } from "react";
import type { StateField } from "../graph";

const TYPES = ["string", "number", "integer", "boolean", "object", "array", "any"];
const REDUCERS = ["replace", "append", "merge"];

export function StateFields(props: { state: Record<string, StateField>; onChange: (s: Record<string, StateField>) => void }) {
  const [newName, setNewName] = useState("");
  const set = (name: string, field: StateField) => props.onChange({ ...props.state, [name]: field });
  return (
    <section aria-labelledby="state-title" className="state-fields">
      <h2 id="state-title">State fields</h2>
      <table>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Type</th>
            <th scope="col">Reducer</th>
            <th scope="col">Required</th>
            <th scope="col">
              <span className="sr-only">Remove</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {Object.entries(props.state).map(([name, field]) => (
            <tr key={name}>
              <td>{name}</td>
              <td>
                <select aria-label={`${name} type`} value={field.type || "any"} onChange={(e) => set(name, { ...field, type: e.target.value })}>
                  {TYPES.map((t) => (
                    <option key={t}>{t}</option>
                  ))}
                </select>
              </td>
              <td>
                <select
                  aria-label={`${name} reducer`}
                  value={field.reducer || "replace"}
                  onChange={(e) => set(name, { ...field, reducer: e.target.value })}
                >
                  {REDUCERS.map((t) => (
                    <option key={t}>{t}</option>
                  ))}
                </select>
              </td>
              <td>
                <input
                  type="checkbox"
                  aria-label={`${name} required`}
                  checked={!!field.required}
                  onChange={(e) => set(name, { ...field, required: e.target.checked })}
                />
              </td>
              <td>
                <button
                  type="button"
                  aria-label={`Remove ${name}`}
                  onClick={() => {
                    const next = { ...props.state };
                    delete next[name];
                    props.onChange(next);
                  }}
                >
                  ×
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (newName && !props.state[newName]) set(newName, { type: "string" });
          setNewName("");
        }}
      >
        <label>
          New field <input value={newName} onChange={(e) => setNewName(e.target.value.trim())} pattern="[A-Za-z_][A-Za-z0-9_]*" />
        </label>
        <button type="submit">Add field</button>
      </form>
    </section>
  );
}
