-- The call journey: one row per call, one per step.
CREATE TABLE calls (
    id              text PRIMARY KEY,
    caller          text NOT NULL DEFAULT '',
    caller_e164     text,
    called          text NOT NULL DEFAULT '',
    via             text NOT NULL DEFAULT 'ari',
    flow            text,
    flow_version    text,
    grade           text,
    lookup          text,
    started_at      timestamptz NOT NULL,
    ended_at        timestamptz,
    outcome         text,
    hangup_cause    integer,
    shedding_level  integer NOT NULL DEFAULT 0,
    shedding_rule   text,
    queue           text,
    queue_status    text,
    agent           text
);
CREATE INDEX calls_started_at ON calls (started_at);
CREATE INDEX calls_caller_e164 ON calls (caller_e164, started_at);

CREATE TABLE call_steps (
    call_id    text NOT NULL,
    seq        integer NOT NULL,
    node       text NOT NULL,
    node_type  text NOT NULL,
    digits     text NOT NULL DEFAULT '',
    detail     jsonb NOT NULL DEFAULT '{}'::jsonb,
    at         timestamptz NOT NULL,
    PRIMARY KEY (call_id, seq)
);
