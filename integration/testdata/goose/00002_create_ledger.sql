-- +goose Up
CREATE TABLE ledger (
    id         bigserial PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts (id),
    amount     numeric(12, 2) NOT NULL
);

-- +goose StatementBegin
CREATE FUNCTION apply_ledger() RETURNS trigger AS $$
BEGIN
    UPDATE accounts SET balance = balance + NEW.amount WHERE id = NEW.account_id;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd

CREATE TRIGGER ledger_applies AFTER INSERT ON ledger
    FOR EACH ROW EXECUTE FUNCTION apply_ledger();

-- +goose Down
DROP TABLE ledger;
DROP FUNCTION apply_ledger();
