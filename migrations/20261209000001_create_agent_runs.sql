-- The repository agent's runs and their event logs (issue 17). A run row is written by the server
-- when the run is requested (before its job is queued); the worker that takes the job appends the
-- events and keeps the status. Both go with their user.

CREATE TABLE agent_run (
    run_id       uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES "user"(user_id) ON DELETE CASCADE,
    repo_url     text NOT NULL CHECK (length(repo_url) BETWEEN 1 AND 2048),
    prompt       text NOT NULL CHECK (length(prompt) BETWEEN 1 AND 8000),
    base_branch  text CHECK (base_branch IS NULL OR length(base_branch) BETWEEN 1 AND 255),
    provider     text CHECK (provider IS NULL OR length(provider) BETWEEN 1 AND 100),
    status       text NOT NULL DEFAULT 'queued'
                 CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    cancel_requested boolean NOT NULL DEFAULT false,
    worker_id    text,
    branch       text,
    commit_sha   text,
    pr_url       text,
    error        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    finished_at  timestamptz
);

CREATE INDEX agent_run_user_created ON agent_run (user_id, created_at DESC);

CREATE TABLE agent_run_event (
    run_id     uuid NOT NULL REFERENCES agent_run(run_id) ON DELETE CASCADE,
    seq        bigint NOT NULL CHECK (seq >= 1),
    event      jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, seq)
);
