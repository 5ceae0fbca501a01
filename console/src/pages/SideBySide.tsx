import { diffLines } from "diff";

// Two columns: the original with removed lines marked, the correction with added lines marked.
export function SideBySide(props: { before: string; after: string; beforeLabel?: string; afterLabel?: string }) {
  const parts = diffLines(props.before, props.after);
  return (
    <div className="sbs" role="group" aria-label="Differences">
      <div>
        <h4>{props.beforeLabel || "Original"}</h4>
        <pre>
          {parts
            .filter((p) => !p.added)
            .map((p, i) => (
              <span key={i} className={p.removed ? "del" : undefined}>
                {p.removed ? <span className="sr-only">removed: </span> : null}
                {p.value}
              </span>
            ))}
        </pre>
      </div>
      <div>
        <h4>{props.afterLabel || "Correction"}</h4>
        <pre>
          {parts
            .filter((p) => !p.removed)
            .map((p, i) => (
              <span key={i} className={p.added ? "ins" : undefined}>
                {p.added ? <span className="sr-only">added: </span> : null}
                {p.value}
              </span>
            ))}
        </pre>
      </div>
    </div>
  );
}
