-- Reviews where pull requests live: GitHub deliveries in (queue-webhook), what was posted out (the publish node).

-- One row per GitHub delivery (X-GitHub-Delivery) that changed the queue, written in the same transaction as its
-- effect: a redelivery (GitHub's Redeliver button, a retry after a timeout) finds its row and changes nothing.
CREATE TABLE webhook_deliveries (
    delivery_id text PRIMARY KEY,
    event       text        NOT NULL,
    action      text,
    repo        text,
    pr_number   integer,
    head_sha    text,
    outcome     text        NOT NULL,
    task_id     bigint,
    received_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT webhook_deliveries_id_check CHECK (length(delivery_id) BETWEEN 1 AND 200),
    CONSTRAINT webhook_deliveries_outcome_check
        CHECK (outcome IN ('enqueued', 'deduplicated', 'superseded', 'cancelled'))
);
CREATE INDEX webhook_deliveries_received_idx ON webhook_deliveries (received_at);

-- A pull request's live reviews, for "latest push wins" and "closed cancels" (text, so that no payload can make
-- the index expression fail).
CREATE INDEX tasks_live_reviews_idx ON tasks ((payload ->> 'repo'), (payload ->> 'pr_number'))
    WHERE kind = 'review' AND state IN ('pending', 'running');

-- What a review posted to the pull request: its check run (or commit status), the summary comment, the review and
-- each inline comment (by finding fingerprint, so that a later push does not comment on the same finding again).
-- Written with the review (record_review), in the finish transaction.
CREATE TABLE publications (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    review_id   bigint      NOT NULL REFERENCES review_history (id) ON DELETE CASCADE,
    task_id     bigint      NOT NULL,
    repo        text        NOT NULL,
    pr_number   integer     NOT NULL,
    head_sha    text        NOT NULL,
    kind        text        NOT NULL,
    github_id   bigint,
    url         text,
    fingerprint text,
    detail      text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT publications_kind_check CHECK (kind IN ('check_run', 'commit_status', 'summary_comment', 'review',
                                                      'review_comment', 'error'))
);
CREATE INDEX publications_pr_idx ON publications (repo, pr_number, kind);
CREATE INDEX publications_review_idx ON publications (review_id);
