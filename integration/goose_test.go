package integration_test

import (
	"database/sql"
	"embed"
	"testing"

	"github.com/pressly/goose/v3"
)

//go:embed testdata/goose/*.sql
var gooseFiles embed.FS

// goose runs migrations on the *sql.DB it is given, so one opened through
// the lakebase driver is all it needs. Its dialect, base FS and logger are
// global; this is the only test that sets them.
func TestGoose(t *testing.T) {
	t.Parallel()
	kit := newRotatingKit(t)
	db := openDB(t, kit.DSNs().M2M)
	db.SetMaxIdleConns(0) // every step logs in anew

	goose.SetBaseFS(gooseFiles)
	goose.SetLogger(goose.NopLogger())
	t.Cleanup(func() { goose.SetBaseFS(nil) })
	if err := goose.SetDialect("postgres"); err != nil {
		t.Fatal(err)
	}
	const dir = "testdata/goose"

	if err := goose.Up(db, dir); err != nil {
		t.Fatalf("Up: %v", err)
	}
	checkGooseVersion(t, db, 2)
	checkTables(t, db, true, "accounts", "ledger", "goose_db_version")

	// The function from the StatementBegin/End block runs as a trigger.
	_, err := db.Exec(`WITH a AS (INSERT INTO accounts (owner) VALUES ('ann') RETURNING id)
		INSERT INTO ledger (account_id, amount) SELECT id, 12.5 FROM a`)
	if err != nil {
		t.Fatalf("insert through the migrated schema: %v", err)
	}
	var balance string
	if err := db.QueryRow(`SELECT balance FROM accounts WHERE owner = 'ann'`).Scan(&balance); err != nil || balance != "12.50" {
		t.Errorf("balance after a ledger entry: %q, %v; want 12.50", balance, err)
	}

	if err := goose.Down(db, dir); err != nil {
		t.Fatalf("Down: %v", err)
	}
	checkGooseVersion(t, db, 1)
	checkTables(t, db, false, "ledger")

	if err := goose.DownTo(db, dir, 0); err != nil {
		t.Fatalf("DownTo 0: %v", err)
	}
	checkGooseVersion(t, db, 0)
	checkTables(t, db, false, "accounts", "ledger")
	checkTables(t, db, true, "goose_db_version")
}

// checkGooseVersion fails the test unless goose's version table says want.
func checkGooseVersion(t *testing.T, db *sql.DB, want int64) {
	t.Helper()
	v, err := goose.GetDBVersion(db)
	if err != nil || v != want {
		t.Errorf("goose version: %d, %v; want %d", v, err, want)
	}
}
