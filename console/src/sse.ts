// GET /v1/runs/{id}/events needs the Authorization header, which EventSource cannot send: read the
// stream with fetch and parse it with eventsource-parser.
import { createParser } from "eventsource-parser";
import { authHeaders } from "./api";

export interface RunEvent {
  run_id: string;
  type: string;
  data: Record<string, unknown>;
  at: string;
}

export function followRun(runId: string, onEvent: (event: RunEvent) => void, onEnd: (error?: string) => void): () => void {
  const controller = new AbortController();
  (async () => {
    try {
      const response = await fetch(`/v1/runs/${encodeURIComponent(runId)}/events`, {
        headers: { Accept: "text/event-stream", ...authHeaders() },
        signal: controller.signal,
      });
      if (!response.ok || !response.body) {
        onEnd(`event stream: ${response.status} ${response.statusText}`);
        return;
      }
      const parser = createParser({
        onEvent: (message) => {
          try {
            onEvent(JSON.parse(message.data) as RunEvent);
          } catch {
            // a keep-alive or a malformed line: ignore
          }
        },
      });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parser.feed(value);
      }
      onEnd();
    } catch (error) {
      if (!controller.signal.aborted) onEnd(String(error));
    }
  })();
  return () => controller.abort();
}
