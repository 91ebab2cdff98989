// The outcome of a user's action, under the form that took it: an alert when it failed (read out
// at once), a status line when it worked.

export interface NoticeText {
  tone: "good" | "bad";
  text: string;
}

export function Notice({ notice, testId }: { notice: NoticeText | null; testId?: string }) {
  if (!notice) return null;
  return (
    <p role={notice.tone === "bad" ? "alert" : "status"} className={`notice notice-${notice.tone}`} data-testid={testId}>
      {notice.text}
    </p>
  );
}
