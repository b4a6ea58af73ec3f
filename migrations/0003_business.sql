-- Demo business data behind the transactions of the shipped flows.
-- Amounts are in fen (1/100 yuan) as bigint: no floating point money.
CREATE TABLE accounts (
    number          text PRIMARY KEY,          -- E.164
    balance_fen     bigint NOT NULL DEFAULT 0,
    plan_name       text NOT NULL DEFAULT '',
    plan_fee_fen    bigint NOT NULL DEFAULT 0,
    data_used_mb    integer NOT NULL DEFAULT 0,
    data_quota_mb   integer NOT NULL DEFAULT 0
);

CREATE TABLE bills (
    number      text NOT NULL,
    month       date NOT NULL,                 -- first day of the billed month
    amount_fen  bigint NOT NULL,
    due_date    date NOT NULL,
    paid        boolean NOT NULL DEFAULT false,
    PRIMARY KEY (number, month)
);

CREATE TABLE payments (
    id          bigserial PRIMARY KEY,
    number      text NOT NULL,
    paid_at     timestamptz NOT NULL,
    amount_fen  bigint NOT NULL,
    channel     text NOT NULL DEFAULT 'app'
);
CREATE INDEX payments_number ON payments (number, paid_at DESC);

CREATE TABLE bank_accounts (
    number        text NOT NULL,               -- the customer's phone (E.164)
    card_last4    text NOT NULL,
    balance_fen   bigint NOT NULL DEFAULT 0,
    status        text NOT NULL DEFAULT 'active',
    PRIMARY KEY (number, card_last4)
);

CREATE TABLE bank_transactions (
    id          bigserial PRIMARY KEY,
    number      text NOT NULL,
    card_last4  text NOT NULL,
    at          timestamptz NOT NULL,
    amount_fen  bigint NOT NULL,               -- negative = debit
    merchant    text NOT NULL DEFAULT ''
);
CREATE INDEX bank_transactions_card ON bank_transactions (number, card_last4, at DESC);

CREATE TABLE card_reports (
    id          bigserial PRIMARY KEY,
    number      text NOT NULL,
    card_last4  text NOT NULL,
    call_id     text,
    reported_at timestamptz NOT NULL DEFAULT now()
);
