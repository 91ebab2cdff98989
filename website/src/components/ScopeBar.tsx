// The period picker (and the admin's user filter) above an analytics page.
import { Choice } from "./Choice";
import { useState, type FormEvent } from "react";
import { useAuth } from "../auth";
import { PERIODS, useScope } from "./scope";

export function ScopeBar() {
  const { user } = useAuth();
  const { period, userId, setPeriod, setUserId } = useScope();
  const [draft, setDraft] = useState(userId ?? "");

  const applyUser = (event: FormEvent) => {
    event.preventDefault();
    setUserId(draft.trim() || undefined);
  };

  return (
    <div className="scope-bar">
      <Choice label="Period" value={period} options={PERIODS} onChange={setPeriod} />
      {user?.is_admin ? (
        <form onSubmit={applyUser} className="user-filter">
          <label>
            User id <input value={draft} onChange={(e) => setDraft(e.target.value)} placeholder="all users" size={24} />
          </label>
          <button type="submit" className="secondary">
            Apply
          </button>
        </form>
      ) : (
        <span className="hint">Showing your own data.</span>
      )}
    </div>
  );
}
