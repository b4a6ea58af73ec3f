-- The CRM view the hotline needs: who is calling, their grade and state.
CREATE TABLE customers (
    number           text PRIMARY KEY,                 -- E.164, e.g. +8613800138000
    name             text NOT NULL DEFAULT '',
    grade            text NOT NULL,                    -- validated by the app (config/service.yaml)
    brand            text NOT NULL DEFAULT '',
    tags             text[] NOT NULL DEFAULT '{}',
    language         text NOT NULL DEFAULT 'zh' CHECK (language IN ('zh', 'en')),
    bill_day         smallint NOT NULL DEFAULT 1 CHECK (bill_day BETWEEN 1 AND 31),
    status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    last_agent       text,
    last_contact_at  timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
