// A client of the server's action WebSockets (`/api/ws/completion`, `/api/ws/chat`): one JSON frame
// per request, `accepted` → `token`… → `result` (or `cancelled`) back, matched by `request_id`. The
// socket opens on first use, reopens after a drop, and a close with 4401 (session over) signs the
// page out like a REST 401.
import { SIGNED_OUT_EVENT } from "../api/errors";

/** The end of a request: upstream's status code and the REST body of the same action. */
export interface ActionResult {
  status_code: number;
  content: unknown;
}

/** A request in flight. */
export interface Run {
  /** The result; `null` when it was cancelled or superseded. Rejects when the socket dropped. */
  done: Promise<ActionResult | null>;
  /** Stops it (dropped from the queue, or stopped at the next token). */
  cancel(): void;
}

interface Pending {
  onToken?: (text: string) => void;
  resolve: (result: ActionResult | null) => void;
  reject: (error: Error) => void;
  requestId?: string;
  cancelled?: boolean;
}

type ServerFrame =
  | { type: "accepted"; request_id: string }
  | { type: "token"; request_id: string; text: string }
  | { type: "result"; action?: string; request_id: string | null; status_code: number; content: unknown }
  | { type: "cancelled"; request_id: string }
  | { error: string };

const SESSION_OVER = 4401;
/** Actions answered with `accepted` first (model requests); the others answer at once. */
const MODEL_ACTIONS = new Set(["completion_request", "chat_request"]);

export class ActionSocket {
  private socket: Promise<WebSocket> | null = null;
  /** Model requests waiting for their `accepted` frame, in the order they were sent. */
  private awaitingAccept: Pending[] = [];
  /** Immediate actions (feedback, context) waiting for their result, in order. */
  private awaitingResult: Pending[] = [];
  private running = new Map<string, Pending>();

  constructor(private readonly path: string) {}

  /** Sends a model request (`completion_request`, `chat_request`), streaming its tokens. */
  request(action: string, body: unknown, onToken?: (text: string) => void): Run {
    const pending: Pending = { onToken, resolve: () => {}, reject: () => {} };
    const done = new Promise<ActionResult | null>((resolve, reject) => Object.assign(pending, { resolve, reject }));
    this.send(action, body, pending, this.awaitingAccept);
    return {
      done,
      cancel: () => {
        if (pending.cancelled) return;
        pending.cancelled = true;
        if (pending.requestId) void this.frame({ cancel: { request_id: pending.requestId } });
      },
    };
  }

  /** Sends an action that answers at once (`completion_feedback`). */
  call(action: string, body: unknown): Promise<ActionResult | null> {
    const pending: Pending = { resolve: () => {}, reject: () => {} };
    const done = new Promise<ActionResult | null>((resolve, reject) => Object.assign(pending, { resolve, reject }));
    this.send(action, body, pending, this.awaitingResult);
    return done;
  }

  close() {
    void this.socket?.then((ws) => ws.close(1000));
    this.socket = null;
  }

  private send(action: string, body: unknown, pending: Pending, queue: Pending[]) {
    this.open()
      .then((ws) => {
        queue.push(pending);
        ws.send(JSON.stringify({ [action]: body }));
      })
      .catch((error: Error) => pending.reject(error));
  }

  private async frame(frame: unknown) {
    (await this.open()).send(JSON.stringify(frame));
  }

  private open(): Promise<WebSocket> {
    if (this.socket) return this.socket;
    const url = new URL(this.path, window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const opening = new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.onopen = () => resolve(ws);
      ws.onmessage = (event) => {
        let frame: ServerFrame;
        try {
          frame = JSON.parse(String(event.data)) as ServerFrame;
        } catch {
          return; // not one of ours: nothing waits for it
        }
        this.receive(frame);
      };
      ws.onclose = (event) => {
        if (this.socket === opening) this.socket = null;
        if (event.code === SESSION_OVER) window.dispatchEvent(new Event(SIGNED_OUT_EVENT));
        const error = new Error(event.reason || `The connection closed (${event.code})`);
        for (const pending of [...this.awaitingAccept, ...this.awaitingResult, ...this.running.values()]) pending.reject(error);
        this.awaitingAccept = [];
        this.awaitingResult = [];
        this.running.clear();
        reject(error);
      };
    });
    this.socket = opening;
    return opening;
  }

  private receive(frame: ServerFrame) {
    if ("error" in frame) {
      this.awaitingResult.shift()?.reject(new Error(frame.error));
      return;
    }
    switch (frame.type) {
      case "accepted": {
        const pending = this.awaitingAccept.shift();
        if (!pending) return;
        pending.requestId = frame.request_id;
        this.running.set(frame.request_id, pending);
        if (pending.cancelled) void this.frame({ cancel: { request_id: frame.request_id } });
        return;
      }
      case "token": {
        const pending = this.running.get(frame.request_id);
        if (pending && !pending.cancelled) pending.onToken?.(frame.text);
        return;
      }
      case "result": {
        // A model request refused before it was taken (a 422 body, Redis down) has no id: it is
        // the oldest model request still waiting, not an immediate action's answer.
        const pending = frame.request_id
          ? this.running.get(frame.request_id)
          : MODEL_ACTIONS.has(frame.action ?? "")
            ? this.awaitingAccept.shift()
            : this.awaitingResult.shift();
        if (frame.request_id) this.running.delete(frame.request_id);
        // A cancelled request's late answer is not shown.
        pending?.resolve(pending.cancelled ? null : { status_code: frame.status_code, content: frame.content });
        return;
      }
      case "cancelled":
        this.running.get(frame.request_id)?.resolve(null);
        this.running.delete(frame.request_id);
        return;
    }
  }
}
