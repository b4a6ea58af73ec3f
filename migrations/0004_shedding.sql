-- Self-service actions: the SMS outbox (the SMS-centre gateway reads it) and callbacks.
CREATE TABLE sms_outbox (
    id          bigserial PRIMARY KEY,
    number      text NOT NULL,
    template    text NOT NULL,
    body        text NOT NULL,
    language    text NOT NULL DEFAULT 'zh',
    call_id     text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    state       text NOT NULL DEFAULT 'queued',
    sent_at     timestamptz
);

CREATE TABLE callbacks (
    id               bigserial PRIMARY KEY,
    number           text NOT NULL,
    queue            text NOT NULL,
    priority         integer NOT NULL DEFAULT 0,
    requested_at     timestamptz NOT NULL DEFAULT now(),
    not_before       timestamptz NOT NULL DEFAULT now(),
    attempts         integer NOT NULL DEFAULT 0,
    max_attempts     integer NOT NULL DEFAULT 3,
    retry_delay_s    integer NOT NULL DEFAULT 300,
    state            text NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'dialing', 'connected', 'failed', 'cancelled', 'done')),
    last_attempt_at  timestamptz,
    last_result      text,
    call_id          text
);
-- Never two open callbacks for one number.
CREATE UNIQUE INDEX callbacks_one_open ON callbacks (number) WHERE state IN ('pending', 'dialing');
CREATE INDEX callbacks_due ON callbacks (queue, requested_at) WHERE state = 'pending';
