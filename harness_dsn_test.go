package lakebase_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
)

// uniqueName returns a name no other test uses, for instances, endpoints,
// identities and roles.
func uniqueName(prefix string) string {
	return prefix + "-" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
}

// quote quotes a key/value DSN value.
func quote(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// tlsKeys are the DSN keys that verify a kit's gateways.
func tlsKeys(kit *lakebasetest.Kit) string {
	return "sslmode=verify-full sslrootcert=" + quote(kit.Postgres.CAFile())
}

// m2mAuth is the DSN part that logs in as sp with oauth-m2m.
func m2mAuth(sp lakebasetest.ServicePrincipal) string {
	return "auth=oauth-m2m client_id=" + quote(sp.ApplicationID) + " client_secret=" + quote(sp.Secret)
}

// workspaceKeys are the DSN keys of a login through the workspace at
// workspaceURL (kit's own, or a proxy to it) to kit's gateways.
func workspaceKeys(kit *lakebasetest.Kit, workspaceURL string) string {
	return "workspace=" + quote(workspaceURL) + " " + tlsKeys(kit)
}

// m2mKeys are the DSN keys of an oauth-m2m login to kit's workspace as sp.
func m2mKeys(kit *lakebasetest.Kit, sp lakebasetest.ServicePrincipal) string {
	return m2mAuth(sp) + " " + workspaceKeys(kit, kit.Workspace.URL())
}

// openConnector parses dsn, lets each of edits change the Config, and
// returns the connector and a sql.DB over it, both closed when the test
// ends.
func openConnector(t testing.TB, dsn string, edits ...func(*lakebase.Config)) (*lakebase.Connector, *sql.DB) {
	t.Helper()
	cfg, err := lakebase.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("ParseDSN: %v", err)
	}
	for _, edit := range edits {
		if edit != nil {
			edit(cfg)
		}
	}
	conn, err := lakebase.NewConnector(cfg)
	if err != nil {
		t.Fatalf("NewConnector: %v", err)
	}
	db := sql.OpenDB(conn)
	t.Cleanup(func() { db.Close() })
	return conn, db
}

// withLogger is an edit of openConnector that sets the Config's logger.
func withLogger(logs *logCapture) func(*lakebase.Config) {
	return func(c *lakebase.Config) { c.Logger = logs.logger }
}

// currentUser asks the server who the session is.
func currentUser(ctx context.Context, db *sql.DB) (string, error) {
	var user string
	err := db.QueryRowContext(ctx, "SELECT current_user").Scan(&user)
	return user, err
}

// mustCurrentUser is currentUser or a failed test.
func mustCurrentUser(t testing.TB, db *sql.DB) string {
	t.Helper()
	user, err := currentUser(contextFor(t, 30*time.Second), db)
	if err != nil {
		t.Fatalf("SELECT current_user: %v", err)
	}
	return user
}

// wantCurrentUser checks that db's sessions are want's.
func wantCurrentUser(t testing.TB, db *sql.DB, want string) {
	t.Helper()
	if got := mustCurrentUser(t, db); got != want {
		t.Errorf("current_user = %q, want %q", got, want)
	}
}

// contextFor returns a context that ends after d or with the test.
func contextFor(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// failingBrowser is a Config.Browser that fails the test if a login page is
// opened.
func failingBrowser(t testing.TB) func(string) error {
	var opened atomic.Bool
	t.Cleanup(func() {
		if opened.Load() {
			t.Error("a browser login was started, but none was expected")
		}
	})
	return func(string) error {
		opened.Store(true)
		return errors.New("test: no browser here")
	}
}

// wantConnectError checks that err is a *lakebase.ConnectError of step whose
// text holds every one of parts.
func wantConnectError(t testing.TB, err error, step string, parts ...string) *lakebase.ConnectError {
	t.Helper()
	var ce *lakebase.ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *lakebase.ConnectError", err, err)
	}
	if ce.Step != step {
		t.Errorf("ConnectError.Step = %q, want %q (error %q)", ce.Step, step, err)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "lakebase: "+step) {
		t.Errorf("error %q does not start with %q", msg, "lakebase: "+step)
	}
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("error %q does not mention %q", msg, p)
		}
	}
	return ce
}

// pingFails opens a connector for dsn that logs into a capture of its own,
// pings within 30 seconds, and returns the Ping's error, how long it took
// and the log; a Ping that succeeds fails the test.
func pingFails(t testing.TB, dsn string, edits ...func(*lakebase.Config)) (logs *logCapture, took time.Duration, err error) {
	t.Helper()
	logs = newLogCapture()
	_, db := openConnector(t, dsn, append([]func(*lakebase.Config){withLogger(logs)}, edits...)...)
	start := time.Now()
	err = db.PingContext(contextFor(t, 30*time.Second))
	took = time.Since(start)
	if err == nil {
		t.Fatal("Ping succeeded; want an error")
	}
	t.Logf("error after %s: %v", took, err)
	return logs, took, err
}
