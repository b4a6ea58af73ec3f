-- What every node applies: a flow reload, the QA business clock, the QA
-- shedding level. One row per key, the latest; each change takes a new
-- generation and wakes the nodes' LISTEN (they also poll this table).
CREATE SEQUENCE cluster_generation;
CREATE TABLE cluster_state (
    key         text PRIMARY KEY CHECK (key IN ('flows', 'clock', 'shedding')),
    generation  bigint NOT NULL,
    body        jsonb NOT NULL,
    origin      text NOT NULL,   -- the node instance that made the change
    node        text NOT NULL,
    set_at      timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION cluster_state_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('agi_app_cluster', NEW.key || ' ' || NEW.generation);
    RETURN NEW;
END;
$$;
CREATE TRIGGER cluster_state_changed AFTER INSERT OR UPDATE ON cluster_state
    FOR EACH ROW EXECUTE FUNCTION cluster_state_notify();

-- Which node instance is dialling a callback: a row left 'dialing' by an
-- instance that is no longer alive is given back for a retry.
ALTER TABLE callbacks ADD COLUMN dialed_by text;
CREATE INDEX callbacks_dialing ON callbacks (last_attempt_at) WHERE state = 'dialing';
