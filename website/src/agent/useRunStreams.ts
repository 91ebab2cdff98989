// The live event streams of the runs the Agent page follows: one `EventSource` per run (it sends the
// session cookie and, when it reconnects, `Last-Event-ID`, so nothing is missed or repeated), each
// closed on the run's final event. The server cancels a run once every stream of it has been closed
// for its grace period (10 s by default), so the page keeps the streams of the runs it shows open
// and lets them all go when the reader leaves.
import { useCallback, useEffect, useRef, useState } from "react";
import { eventsUrl } from "../api/agent";
import { isFinal, mergeEvents, type AgentEvent } from "./runState";

/**
 * Streams open at once. Browsers allow six HTTP/1.1 connections per origin; the page's own API calls
 * need the others. Following one run more closes the stream of the oldest other one.
 */
export const MAX_STREAMS = 4;

/** The event types the server sends (`event:`). */
const KINDS = ["info", "thinking", "diff", "success", "error"] as const;

/** Where a run's stream stands. */
export type StreamState = "connecting" | "open" | "reconnecting" | "ended" | "failed" | "closed";

interface WatchOptions {
  /** A stream of the same run to cancel once this one is open (or has failed): the start request's. */
  handOver?: ReadableStream<Uint8Array> | null;
}

interface Followed {
  source: EventSource;
  handOver: ReadableStream<Uint8Array> | null;
}

export function useRunStreams(onFinal: (runId: string) => void) {
  const [events, setEvents] = useState<Record<string, readonly AgentEvent[]>>({});
  const [streams, setStreams] = useState<Record<string, StreamState>>({});
  const followed = useRef(new Map<string, Followed>());
  const finalRef = useRef(onFinal);
  useEffect(() => {
    finalRef.current = onFinal;
  }, [onFinal]);

  const mark = useCallback((runId: string, state: StreamState) => {
    setStreams((prev) => (prev[runId] === state ? prev : { ...prev, [runId]: state }));
  }, []);

  /** Adds events of `runId` (stored or live), each `seq` once. */
  const add = useCallback((runId: string, incoming: readonly AgentEvent[]) => {
    setEvents((prev) => {
      const known = prev[runId] ?? [];
      const merged = mergeEvents(known, incoming);
      return merged === known ? prev : { ...prev, [runId]: merged };
    });
  }, []);

  const release = useCallback((runId: string) => {
    const entry = followed.current.get(runId);
    if (!entry) return;
    entry.source.close();
    letGo(entry);
    followed.current.delete(runId);
  }, []);

  /** Follows `runId`'s events until its final one; `keep` is a run whose stream must stay open. */
  const watch = useCallback(
    (runId: string, keep: string | null, options: WatchOptions = {}) => {
      const existing = followed.current.get(runId);
      if (existing) {
        if (options.handOver) void options.handOver.cancel().catch(() => {});
        return;
      }
      for (const other of followed.current.keys()) {
        if (followed.current.size < MAX_STREAMS) break;
        if (other === keep) continue;
        release(other);
        mark(other, "closed");
      }
      const source = new EventSource(eventsUrl(runId));
      const entry: Followed = { source, handOver: options.handOver ?? null };
      followed.current.set(runId, entry);
      mark(runId, "connecting");
      const current = () => followed.current.get(runId) === entry;

      const receive = (message: MessageEvent) => {
        if (!current()) return;
        let event: AgentEvent;
        try {
          event = JSON.parse(String(message.data)) as AgentEvent;
        } catch {
          return;
        }
        if (event.request_id !== runId) return;
        add(runId, [event]);
        if (isFinal(event)) {
          release(runId);
          mark(runId, "ended");
          finalRef.current(runId);
        }
      };
      source.addEventListener("open", () => {
        if (!current()) return;
        letGo(entry);
        mark(runId, "open");
      });
      for (const kind of KINDS) {
        source.addEventListener(kind, (e: Event) => {
          // `event: error` is a run's failure; a bare `error` event is the connection's.
          if (e instanceof MessageEvent) {
            receive(e);
            return;
          }
          if (!current()) return;
          if (source.readyState === EventSource.CLOSED) {
            release(runId);
            mark(runId, "failed");
          } else {
            mark(runId, "reconnecting");
          }
        });
      }
    },
    [add, mark, release],
  );

  // Leaving the page lets every stream go.
  useEffect(() => {
    const map = followed.current;
    return () => {
      for (const entry of map.values()) {
        entry.source.close();
        letGo(entry);
      }
      map.clear();
    };
  }, []);

  return { events, streams, add, watch };
}

/** Cancels the start request's stream once the run's own stream follows it. */
function letGo(entry: Followed) {
  const stream = entry.handOver;
  entry.handOver = null;
  if (stream) void stream.cancel().catch(() => {});
}
