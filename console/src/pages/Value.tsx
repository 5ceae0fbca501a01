// A readable rendering of a JSON value: text as paragraphs, lists of passages as cards, objects as
// labelled fields.

export function asText(value: unknown): string {
  if (value === null || value === undefined) return "";
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

export function Value(props: { value: unknown }) {
  const { value } = props;
  if (value === null || value === undefined) return <span className="muted">(empty)</span>;
  if (typeof value === "string") return <div className="text">{value}</div>;
  if (typeof value !== "object") return <span>{String(value)}</span>;
  if (Array.isArray(value)) {
    if (value.length === 0) return <span className="muted">(none)</span>;
    return (
      <ol className="items">
        {value.map((item, index) => (
          <li key={index}>
            <Value value={item} />
          </li>
        ))}
      </ol>
    );
  }
  const entries = Object.entries(value as Record<string, unknown>);
  return (
    <dl className="fields">
      {entries.map(([key, item]) => (
        <div key={key}>
          <dt>{key}</dt>
          <dd>
            <Value value={item} />
          </dd>
        </div>
      ))}
    </dl>
  );
}
