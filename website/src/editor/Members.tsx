// Who may edit the project: its members (owner first); the owner adds accounts by e-mail.
import { useState, type FormEvent } from "react";
import { api, unwrap } from "../api/client";
import { messageOf } from "../api/errors";
import { Notice, type NoticeText } from "../components/Notice";
import { useLoad } from "../components/useLoad";

export function Members({ projectId, userId }: { projectId: string; userId: string }) {
  const members = useLoad(() => unwrap(api.GET("/api/editor/projects/{project_id}/members", { params: { path: { project_id: projectId } } })), [projectId]);
  const [email, setEmail] = useState("");
  const [notice, setNotice] = useState<NoticeText | null>(null);
  const isOwner = members.state.status === "ready" && members.state.data.members.some((m) => m.is_owner && m.user_id === userId);

  const invite = async (event: FormEvent) => {
    event.preventDefault();
    setNotice(null);
    try {
      const member = await unwrap(api.POST("/api/editor/projects/{project_id}/members", { params: { path: { project_id: projectId } }, body: { email } }));
      setNotice({ tone: "good", text: `${member.name} can now edit this project.` });
      setEmail("");
      members.reload();
    } catch (error) {
      setNotice({ tone: "bad", text: messageOf(error) });
    }
  };

  return (
    <section className="panel members" aria-labelledby="members-heading" data-testid="members">
      <h2 id="members-heading">Members</h2>
      {members.state.status === "loading" && <p className="placeholder">Loading…</p>}
      {members.state.status === "error" && <p className="error-box">{members.state.message}</p>}
      {members.state.status === "ready" && (
        <ul>
          {members.state.data.members.map((m) => (
            <li key={m.user_id}>
              {m.name} {m.is_owner && <span className="hint">(owner)</span>}
            </li>
          ))}
        </ul>
      )}
      {isOwner && (
        <form onSubmit={invite} className="inline-form">
          <label htmlFor="invite-email">Add by e-mail</label>
          <input id="invite-email" type="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
          <button type="submit">Add</button>
        </form>
      )}
      <Notice notice={notice} />
    </section>
  );
}
