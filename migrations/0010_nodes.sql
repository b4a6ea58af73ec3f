-- Every app process (node) writes its heartbeat here about every 2 s, so any
-- node, and `agi-app cluster status`, sees who is up and what it runs.
CREATE TABLE nodes (
    node             text PRIMARY KEY,     -- Settings.node (AGI_APP_NODE)
    instance         text NOT NULL,        -- this run of its process
    pid              integer NOT NULL,
    flow_version     text NOT NULL,
    calls            integer NOT NULL,     -- calls in progress
    ari_connected    boolean NOT NULL,
    admission_limit  integer NOT NULL,
    leader           boolean NOT NULL DEFAULT false,  -- leads the callback worker
    admin            text NOT NULL DEFAULT '',        -- host:port of its admin endpoint
    started_at       timestamptz NOT NULL,
    last_seen        timestamptz NOT NULL DEFAULT now(),
    stopped_at       timestamptz           -- set by a graceful stop
);
