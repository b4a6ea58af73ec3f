-- Journeys partitioned by day: at 1.3 M calls and ~13 M steps a day, a day is
-- one table that is dropped whole past the retention (agi_app/adapters/postgres/
-- partitions.py keeps the partitions: created ahead, dropped when old).
--
-- Days are UTC days: partition calls_pYYYYMMDD holds the calls that started on
-- that UTC day, call_steps_pYYYYMMDD their steps. A step carries its call's
-- start (call_steps.started_at, the partition key of both tables), so a call and
-- its steps sit in partitions of the same day and a step is found by its call's
-- key (call_id, started_at). Keys include the partition key, as PostgreSQL
-- requires: calls (id, started_at), call_steps (call_id, seq, started_at). A
-- replayed event has the same values, so ON CONFLICT still sees it.
-- A row outside every partition goes to the default partition, never lost.

ALTER TABLE calls RENAME TO calls_unpartitioned;
ALTER INDEX calls_pkey RENAME TO calls_unpartitioned_pkey;
ALTER INDEX calls_started_at RENAME TO calls_unpartitioned_started_at;
ALTER INDEX calls_caller_e164 RENAME TO calls_unpartitioned_caller_e164;
ALTER TABLE call_steps RENAME TO call_steps_unpartitioned;
ALTER INDEX call_steps_pkey RENAME TO call_steps_unpartitioned_pkey;

-- The same columns, plus the node that served the call (Settings.node).
CREATE TABLE calls (
    LIKE calls_unpartitioned INCLUDING DEFAULTS,
    node text,
    PRIMARY KEY (id, started_at)
) PARTITION BY RANGE (started_at);
CREATE INDEX calls_started_at ON calls (started_at);
CREATE INDEX calls_caller_e164 ON calls (caller_e164, started_at);

CREATE TABLE call_steps (
    LIKE call_steps_unpartitioned INCLUDING DEFAULTS,
    started_at timestamptz NOT NULL,  -- the call's start: the partition key
    PRIMARY KEY (call_id, seq, started_at)
) PARTITION BY RANGE (started_at);

CREATE TABLE calls_default PARTITION OF calls DEFAULT;
CREATE TABLE call_steps_default PARTITION OF call_steps DEFAULT;

-- A partition for every day that has rows, and for yesterday to a week ahead.
DO $$
DECLARE
    d date;
    lo timestamptz;
BEGIN
    FOR d IN
        SELECT (started_at AT TIME ZONE 'UTC')::date FROM calls_unpartitioned
        UNION
        SELECT (s.at AT TIME ZONE 'UTC')::date FROM call_steps_unpartitioned s
        WHERE NOT EXISTS (SELECT 1 FROM calls_unpartitioned c WHERE c.id = s.call_id)
        UNION
        SELECT (now() AT TIME ZONE 'UTC')::date + k FROM generate_series(-1, 7) AS k
    LOOP
        lo := d::timestamp AT TIME ZONE 'UTC';
        EXECUTE format('CREATE TABLE %I PARTITION OF calls FOR VALUES FROM (%L) TO (%L)',
                       'calls_p' || to_char(d, 'YYYYMMDD'), lo, lo + interval '1 day');
        EXECUTE format('CREATE TABLE %I PARTITION OF call_steps FOR VALUES FROM (%L) TO (%L)',
                       'call_steps_p' || to_char(d, 'YYYYMMDD'), lo, lo + interval '1 day');
    END LOOP;
END $$;

INSERT INTO calls SELECT *, NULL FROM calls_unpartitioned;
-- A step without its call (none are written that way, but a rejected start could
-- leave one) takes its own time as the key.
INSERT INTO call_steps
SELECT s.*, coalesce(c.started_at, s.at)
FROM call_steps_unpartitioned s LEFT JOIN calls_unpartitioned c ON c.id = s.call_id;

DROP TABLE call_steps_unpartitioned;
DROP TABLE calls_unpartitioned;

-- Statistics for the moved rows now, so that the writer's lookup by the calls
-- key is planned on the key from the first batch (autovacuum would come later).
ANALYZE calls;
ANALYZE call_steps;
