CREATE TABLE ledger (
    id         bigserial PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts (id),
    amount     numeric(12, 2) NOT NULL,
    booked_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_account_idx ON ledger (account_id, booked_at);
