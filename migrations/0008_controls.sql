-- Operator controls (emergency announcement, forced shedding level, A/B splits),
-- in the database so that every node of a cluster reads the same ones.
CREATE TABLE controls (
    kind        text NOT NULL CHECK (kind IN ('announcement', 'escalation', 'ab_split')),
    scope       text NOT NULL DEFAULT '',  -- '' for one per hotline; the line for a split
    body        jsonb NOT NULL,
    expires_at  timestamptz,
    set_by      text NOT NULL,
    set_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, scope)
);

-- Who changed which control, when, from what to what.
CREATE TABLE control_audit (
    id      bigserial PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    who     text NOT NULL,
    action  text NOT NULL,
    kind    text NOT NULL,
    scope   text NOT NULL DEFAULT '',
    before  jsonb,
    after   jsonb
);
CREATE INDEX control_audit_at ON control_audit (at);

-- Journeys record the announcement a caller heard and their A/B variant.
ALTER TABLE calls ADD COLUMN announcement text, ADD COLUMN ab_variant text;
