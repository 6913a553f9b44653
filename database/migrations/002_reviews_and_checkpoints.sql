-- Checkpoints of the agent graph, and the review results that analytics read.

-- One row per (task, node): the node's output as versioned JSON, written insert-if-absent under the lease fence
-- right after the node finished. A resumed task loads these and runs only the nodes that have none. Deleted with
-- the task (retention).
CREATE TABLE task_checkpoints (
    task_id     bigint           NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    node        text             NOT NULL,
    output      jsonb            NOT NULL,
    attempt     integer          NOT NULL,
    worker      text             NOT NULL,
    duration_ms double precision NOT NULL,
    created_at  timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, node),
    CONSTRAINT task_checkpoints_node_check CHECK (node ~ '^[a-z][a-z0-9_]{0,63}$'),
    CONSTRAINT task_checkpoints_output_check CHECK (jsonb_typeof(output) = 'object' AND output ? 'version')
);

-- Write a node's checkpoint if the lease is still held and the node has none yet. The task row is locked
-- (FOR SHARE) for the statement, so a rescue that commits first makes this see the new state and refuse.
-- Returns 'written', 'exists' (an earlier attempt wrote it; the first result stays) or 'lease_lost'.
CREATE FUNCTION write_checkpoint(task_id bigint, lease_token uuid, node text, output jsonb, duration_ms double precision)
RETURNS text
LANGUAGE sql AS $$
    WITH held AS MATERIALIZED (
        SELECT t.id, t.attempt, t.lease_owner FROM tasks t
        WHERE t.id = write_checkpoint.task_id AND t.lease_token = write_checkpoint.lease_token AND t.state = 'running'
        FOR SHARE
    ), inserted AS (
        INSERT INTO task_checkpoints AS c (task_id, node, output, attempt, worker, duration_ms)
        SELECT h.id, write_checkpoint.node, write_checkpoint.output, h.attempt, h.lease_owner,
               write_checkpoint.duration_ms
        FROM held h
        ON CONFLICT ON CONSTRAINT task_checkpoints_pkey DO NOTHING
        RETURNING c.task_id
    )
    SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM held) THEN 'lease_lost'
                WHEN EXISTS (SELECT 1 FROM inserted) THEN 'written'
                ELSE 'exists' END
$$;

-- The pull requests AgentQueue has reviewed: the last reviewed head commit per repo + number.
CREATE TABLE pull_requests (
    repo             text        NOT NULL,
    number           integer     NOT NULL,
    url              text,
    title            text,
    author           text,
    last_head_sha    text,
    last_task_id     bigint,
    last_reviewed_at timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repo, number),
    CONSTRAINT pull_requests_number_check CHECK (number > 0)
);

-- One row per review, written exactly once, in the same transaction that completes the task.
CREATE TABLE review_history (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id               bigint           NOT NULL UNIQUE,
    pr_url                text,
    repo                  text,
    pr_number             integer,
    pr_title              text,
    pr_author             text,
    head_sha              text,
    review_verdict        text             NOT NULL,
    security_findings     integer          NOT NULL DEFAULT 0,
    scale_findings        integer          NOT NULL DEFAULT 0,
    code_quality_findings integer          NOT NULL DEFAULT 0,
    architecture_findings integer          NOT NULL DEFAULT 0,
    total_findings        integer GENERATED ALWAYS AS
        (security_findings + scale_findings + code_quality_findings + architecture_findings) STORED,
    verdict_status        text             NOT NULL,
    reviewed_at           timestamptz      NOT NULL DEFAULT now(),
    execution_time_ms     double precision NOT NULL,
    CONSTRAINT review_history_verdict_status_check
        CHECK (verdict_status IN ('approved', 'approved_with_comments', 'changes_requested'))
);
CREATE INDEX review_history_repo_idx ON review_history (repo, reviewed_at DESC);
CREATE INDEX review_history_reviewed_at_idx ON review_history (reviewed_at);
CREATE INDEX review_history_status_idx ON review_history (verdict_status, reviewed_at);
CREATE INDEX review_history_pr_idx ON review_history (repo, pr_number);

-- Every finding of every review.
CREATE TABLE findings (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    review_id   bigint      NOT NULL REFERENCES review_history (id) ON DELETE CASCADE,
    task_id     bigint      NOT NULL,
    repo        text,
    agent       text        NOT NULL,
    rule_id     text        NOT NULL,
    severity    text        NOT NULL,
    path        text        NOT NULL,
    line        integer,
    message     text        NOT NULL,
    suggestion  text,
    fingerprint text        NOT NULL,
    source      text        NOT NULL DEFAULT 'rules',
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT findings_severity_check CHECK (severity IN ('critical', 'high', 'medium', 'low', 'info')),
    CONSTRAINT findings_agent_check CHECK (agent IN ('security', 'scale', 'quality', 'architecture'))
);
CREATE INDEX findings_review_idx ON findings (review_id);
CREATE INDEX findings_repo_idx ON findings (repo, created_at);
CREATE INDEX findings_agent_idx ON findings (agent, created_at);
CREATE INDEX findings_rule_idx ON findings (rule_id);

-- How each agent performed on each review.
CREATE TABLE agent_performance (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    review_id         bigint           REFERENCES review_history (id) ON DELETE CASCADE,
    task_id           bigint           NOT NULL,
    agent             text             NOT NULL,
    execution_time_ms double precision NOT NULL,
    findings_count    integer          NOT NULL,
    executed_at       timestamptz      NOT NULL DEFAULT now(),
    model             text,
    prompt_tokens     integer,
    completion_tokens integer,
    model_calls       integer,
    model_latency_ms  double precision,
    CONSTRAINT agent_performance_agent_check CHECK (agent IN ('security', 'scale', 'quality', 'architecture'))
);
CREATE INDEX agent_performance_agent_idx ON agent_performance (agent, executed_at);
CREATE INDEX agent_performance_executed_at_idx ON agent_performance (executed_at);
CREATE INDEX agent_performance_review_idx ON agent_performance (review_id);
