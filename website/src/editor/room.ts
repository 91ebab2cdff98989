// One file's collaboration room: a Yjs document bound to the server's room WebSocket
// (`/api/editor/rooms/{project_id}?file=NAME`, y-sync), with this user's presence (name and
// colour) in its awareness. The shared text is `content`, as the server documents.
import { WebsocketProvider } from "y-websocket";
import * as Y from "yjs";

/** The colours presence picks from (readable on the editor's white background). */
const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#ff7f0e", "#17becf"];

export interface Collaborator {
  clientId: number;
  name: string;
  colour: string;
}

export type RoomStatus = "connecting" | "connected" | "disconnected";

export interface Room {
  doc: Y.Doc;
  text: Y.Text;
  provider: WebsocketProvider;
  /** Ends the connection and frees the document. */
  leave(): void;
}

/** A stable colour for a user, so the same person has the same cursor colour everywhere. */
export function colourOf(userId: string): string {
  let hash = 0;
  for (const char of userId) hash = (hash * 31 + char.charCodeAt(0)) | 0;
  return COLOURS[Math.abs(hash) % COLOURS.length];
}

/**
 * Joins the room of `fileName` in `projectId` as `user`. `onClosed` hears a close the provider will
 * not retry (4401: the session ended; 4404: the file was renamed or deleted).
 */
export function joinRoom(
  projectId: string,
  fileName: string,
  user: { id: string; name: string },
  onClosed: (code: number, reason: string) => void,
): Room {
  const doc = new Y.Doc();
  const url = new URL("/api/editor/rooms", window.location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  // Another tab of this browser is another room member through the server, not through
  // BroadcastChannel: what one tab sees is what a colleague on another machine sees.
  const provider = new WebsocketProvider(url.toString(), projectId, doc, { params: { file: fileName }, disableBc: true });
  const colour = colourOf(user.id);
  provider.awareness.setLocalStateField("user", { name: user.name, color: colour, colorLight: `${colour}33` });
  provider.on("closed", ({ code, reason }) => onClosed(code, reason));
  // Collaborators' colours end up in `style` attributes (y-codemirror.next): what another client
  // announced is checked before it is drawn, so a member cannot inject CSS into everyone's editor.
  provider.awareness.on("change", ({ added, updated }: { added: number[]; updated: number[] }) => {
    for (const clientId of [...added, ...updated]) {
      if (clientId !== doc.clientID) sanitisePresence(provider.awareness.getStates().get(clientId));
    }
  });
  return {
    doc,
    text: doc.getText("content"),
    provider,
    leave() {
      provider.destroy();
      doc.destroy();
    },
  };
}

const HEX_COLOUR = /^#[0-9a-fA-F]{6}$/;
const HEX_COLOUR_ALPHA = /^#[0-9a-fA-F]{8}$/;
const MAX_NAME_CHARS = 64;

/** Makes another client's announced presence safe to draw: hex colours only, a bounded name. */
export function sanitisePresence(state: Record<string, unknown> | undefined) {
  const user = state?.user as Record<string, unknown> | undefined;
  if (!user || typeof user !== "object") return;
  if (typeof user.color !== "string" || !HEX_COLOUR.test(user.color)) user.color = "#555555";
  if (typeof user.colorLight !== "string" || !HEX_COLOUR_ALPHA.test(user.colorLight)) user.colorLight = `${user.color}33`;
  user.name = typeof user.name === "string" ? user.name.slice(0, MAX_NAME_CHARS) : "Someone";
}

/** Everyone in the room, this user included, from the awareness states. */
export function collaborators(room: Room): Collaborator[] {
  const people: Collaborator[] = [];
  room.provider.awareness.getStates().forEach((state, clientId) => {
    const user = (state as { user?: { name?: unknown; color?: unknown } }).user;
    if (user && typeof user.name === "string") people.push({ clientId, name: user.name, colour: String(user.color ?? "#555") });
  });
  return people.sort((a, b) => a.name.localeCompare(b.name) || a.clientId - b.clientId);
}
