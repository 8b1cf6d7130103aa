package integration_test

import (
	"embed"
	"errors"
	"testing"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database/postgres"
	"github.com/golang-migrate/migrate/v4/source/iofs"
)

//go:embed testdata/migrate/*.sql
var migrateFiles embed.FS

// golang-migrate opens its own connections from a URL; with WithInstance it
// uses a *sql.DB opened through the lakebase driver instead, and so gets the
// driver's credentials. It holds one session for its whole run: the test
// revokes the session's credential between Up and Down.
func TestGolangMigrate(t *testing.T) {
	t.Parallel()
	kit := newRotatingKit(t)
	db := openDB(t, kit.DSNs().M2M)

	target, err := postgres.WithInstance(db, &postgres.Config{})
	if err != nil {
		t.Fatalf("postgres.WithInstance: %v", err)
	}
	source, err := iofs.New(migrateFiles, "testdata/migrate")
	if err != nil {
		t.Fatal(err)
	}
	m, err := migrate.NewWithInstance("iofs", source, "postgres", target)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		// Close closes the source, the session and db.
		if srcErr, dbErr := m.Close(); srcErr != nil || dbErr != nil {
			t.Errorf("migrate Close: %v, %v", srcErr, dbErr)
		}
	}()

	if err := m.Up(); err != nil {
		t.Fatalf("Up: %v", err)
	}
	checkVersion(t, m, 2)
	checkTables(t, db, true, "accounts", "ledger", "schema_migrations")

	// The migration session stays open while its credential is revoked:
	// Lakebase checks credentials only at login, and Down needs none.
	kit.RevokeCredentials()
	logins := kit.InstanceGateway().Stats().Accepted
	if err := m.Down(); err != nil {
		t.Fatalf("Down: %v", err)
	}
	if n := kit.InstanceGateway().Stats().Accepted - logins; n != 0 {
		t.Errorf("Down logged in %d times, want 0: it should run on the session Up used", n)
	}
	if _, _, err := m.Version(); !errors.Is(err, migrate.ErrNilVersion) {
		t.Errorf("Version after Down: %v, want ErrNilVersion", err)
	}
	// These checks log in anew, with a fresh credential.
	db.SetMaxIdleConns(0)
	checkTables(t, db, false, "accounts", "ledger")
	checkTables(t, db, true, "schema_migrations")
	if mints := kit.Workspace.Mints(); mints < 2 {
		t.Errorf("workspace minted %d credential(s); want a new one after the first expired", mints)
	}
}

// checkVersion fails the test unless m's database is clean at version want.
func checkVersion(t *testing.T, m *migrate.Migrate, want uint) {
	t.Helper()
	v, dirty, err := m.Version()
	if err != nil || dirty || v != want {
		t.Errorf("Version: %d (dirty %v), %v; want %d, clean", v, dirty, err, want)
	}
}
