package lakebase_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
	"github.com/lib/pq"
)

// Fault 4: the credential is rejected at login.
func TestFaultCredentialRejected(t *testing.T) {
	t.Run("revoked early: one fresh mint and retry", func(t *testing.T) {
		e := newFaultEnv(t)
		db, c := e.open(e.dsn())
		db.SetMaxIdleConns(0)
		if err := e.ping(db, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		open, err := db.Conn(t.Context()) // a session that outlives the revocation
		if err != nil {
			t.Fatal(err)
		}
		defer open.Close()
		mints, rejected := e.kit.Workspace.MintsForInstance(e.instance), e.gateway.Stats().Rejected

		e.kit.RevokeCredentials()
		if err := e.ping(db, 10*time.Second); err != nil {
			t.Fatalf("Ping after the credential was revoked: %v", err)
		}
		if err := open.PingContext(t.Context()); err != nil {
			t.Errorf("the session opened before the revocation: %v", err)
		}
		if n := e.kit.Workspace.MintsForInstance(e.instance) - mints; n != 1 {
			t.Errorf("%d mints after the revocation, want 1", n)
		}
		if n := e.gateway.Stats().Rejected - rejected; n != 1 {
			t.Errorf("%d logins rejected, want 1", n)
		}
		if n := c.Stats().LoginRetries; n != 1 {
			t.Errorf("Stats.LoginRetries = %d, want 1", n)
		}
		for range 5 { // and the new credential serves the next connections
			if err := e.ping(db, 10*time.Second); err != nil {
				t.Fatal(err)
			}
		}
		if n := e.kit.Workspace.MintsForInstance(e.instance) - mints; n != 1 {
			t.Errorf("%d mints in all, want 1", n)
		}
		e.waitNoLeaksAfterClose()
	})

	t.Run("rejected again: an error naming the identity and target", func(t *testing.T) {
		e := newFaultEnv(t)
		// A service principal that the workspace knows, but without a
		// Postgres role: every credential it gets is refused at login.
		sp := lakebasetest.ServicePrincipal{ApplicationID: uuid.NewString(), Secret: "sp-secret-" + uuid.NewString()}
		e.keepSecret(sp.Secret)
		if err := e.kit.Workspace.AddServicePrincipal(sp); err != nil {
			t.Fatal(err)
		}
		db, c := e.open(e.dsnFor(sp))
		err := e.ping(db, 10*time.Second)
		var ce *lakebase.ConnectError
		var pe *pq.Error
		if !errors.As(err, &ce) || ce.Step != "login" || ce.User != sp.ApplicationID || !errors.As(err, &pe) {
			t.Fatalf("Ping = %v; want a login error for the service principal", err)
		}
		if pe.Code != "28000" && pe.Code != "28P01" {
			t.Errorf("SQLSTATE %s, want 28000 or 28P01", pe.Code)
		}
		if msg := err.Error(); !strings.Contains(msg, sp.ApplicationID) || !strings.Contains(msg, e.instance) {
			t.Errorf("error %q should name the identity and the instance", msg)
		}
		if want := "SELECT databricks_create_role('" + sp.ApplicationID + "', 'SERVICE_PRINCIPAL')"; !strings.Contains(err.Error(), want) {
			t.Errorf("error %q should say how to create the role: %s", err, want)
		}
		if n := e.kit.Workspace.MintsForInstance(e.instance); n != 2 {
			t.Errorf("%d mints, want 2: the first and one retry", n)
		}
		if n := c.Stats().LoginRetries; n != 1 {
			t.Errorf("Stats.LoginRetries = %d, want 1", n)
		}
		t.Logf("error: %v", err)

		// A new credential was refused too: the identity is refused, not the
		// credential. The next connects keep it, and a new one comes only
		// after a backoff (0.5 to 1 s, then 1 to 2 s), not one per connect.
		start, pings := time.Now(), 0
		for ; time.Since(start) < 1500*time.Millisecond; pings++ {
			if err := e.ping(db, 10*time.Second); !errors.As(err, &pe) {
				t.Fatalf("Ping %d = %v; want the login error", pings, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if n := e.kit.Workspace.MintsForInstance(e.instance); pings < 5 || n > 3 {
			t.Errorf("%d mints for %d more Pings in 1.5 s; want at most 3 in all", n, pings)
		}
		t.Logf("%d more Pings, %d mints in all, %d login retries", pings, e.kit.Workspace.MintsForInstance(e.instance), c.Stats().LoginRetries)
		e.waitNoLeaksAfterClose()
	})
}

// Fault 4 for clients that log in themselves through Connector.Open (a pgx
// pool): Open judges each login by the error the client returns and applies
// Connect's rules, with nothing for the caller to report.
func TestFaultCredentialRejectedThroughOpen(t *testing.T) {
	t.Run("revoked early: a new credential in the same Open", func(t *testing.T) {
		e := newFaultEnv(t)
		_, c := e.open(e.dsn())
		ctx := contextFor(t, 30*time.Second)
		var first []string
		if err := e.record(c.Open(ctx, loginRecorder(e, &first))); err != nil || len(first) != 1 {
			t.Fatalf("first Open: %v after %d logins; want one login", err, len(first))
		}
		mints := e.kit.Workspace.MintsForInstance(e.instance)

		// Twice in a row: the second revocation comes at once, and the
		// credential it revokes is dropped at once too, since it had
		// logged in.
		for round := 1; round <= 2; round++ {
			e.kit.RevokeCredentials()
			var creds []string
			if err := e.record(c.Open(ctx, loginRecorder(e, &creds))); err != nil {
				t.Fatalf("revocation %d: Open: %v", round, err)
			}
			if len(creds) != 2 || creds[0] == creds[1] {
				t.Fatalf("revocation %d: %d logins (same credential twice: %v); want the refused one, then a new one",
					round, len(creds), len(creds) == 2 && creds[0] == creds[1])
			}
		}
		if n := e.kit.Workspace.MintsForInstance(e.instance) - mints; n != 2 {
			t.Errorf("%d mints after the two revocations, want 2", n)
		}
		if st := c.Stats(); st.LoginRetries != 2 {
			t.Errorf("Stats.LoginRetries = %d, want 2", st.LoginRetries)
		}
		e.waitNoLeaksAfterClose()
		if err := c.Open(ctx, loginRecorder(e, new([]string))); !errors.Is(err, lakebase.ErrConnectorClosed) {
			t.Errorf("Open after Close = %v, want ErrConnectorClosed", err)
		}
	})

	t.Run("native password: a refusal is final", func(t *testing.T) {
		e := newFaultEnv(t)
		_, c := e.open(e.kit.DSNs().Password)
		ctx := contextFor(t, 30*time.Second)
		logins := 0
		err := e.record(c.Open(ctx, func(ctx context.Context, l lakebase.Login) error {
			logins++
			l.Credential.Value = "not-the-password"
			return pqLogin(ctx, e, l)
		}))
		var pe *pq.Error
		var ce *lakebase.ConnectError
		if !errors.As(err, &pe) || pe.Code != "28P01" || !errors.As(err, &ce) || ce.Step != "login" {
			t.Fatalf("Open with a wrong native password = %v; want a login ConnectError with SQLSTATE 28P01", err)
		}
		if logins != 1 {
			t.Errorf("%d logins, want 1: a native password has no replacement", logins)
		}
		e.waitNoLeaksAfterClose()
	})

	t.Run("TLS that lib/pq runs is refused before a lookup", func(t *testing.T) {
		e := newFaultEnv(t)
		_, c := e.open(e.dsn(), func(cfg *lakebase.Config) { cfg.SSLMode = "prefer" })
		called := false
		err := e.record(c.Open(contextFor(t, 10*time.Second), func(context.Context, lakebase.Login) error { called = true; return nil }))
		if !errors.Is(err, lakebase.ErrInvalidDSN) || !strings.Contains(err.Error(), "sslmode") || called {
			t.Errorf("Open with sslmode=prefer = %v (login called: %v); want ErrInvalidDSN naming sslmode, no login", err, called)
		}
		if n := e.kit.Workspace.MintsForInstance(e.instance); n != 0 {
			t.Errorf("%d mints, want none", n)
		}
		e.waitNoLeaksAfterClose()
	})
}

// loginRecorder logs in through lib/pq as each Login says, recording the
// credentials presented (to compare, never to print).
func loginRecorder(e *faultEnv, creds *[]string) func(context.Context, lakebase.Login) error {
	return func(ctx context.Context, l lakebase.Login) error {
		*creds = append(*creds, l.Credential.Value)
		return pqLogin(ctx, e, l)
	}
}

// pqLogin logs in once through lib/pq as l says, verifying the kit's
// certificate, and closes the session.
func pqLogin(ctx context.Context, e *faultEnv, l lakebase.Login) error {
	dsn := fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=%s sslmode=verify-full sslrootcert=%s",
		quote(l.Host), l.Port, quote(l.User), quote(l.Credential.Value), quote(l.Database), quote(e.kit.Postgres.CAFile()))
	pc, err := pq.NewConnector(dsn)
	if err != nil {
		return err
	}
	conn, err := pc.Connect(ctx)
	if err != nil {
		return err
	}
	return conn.Close()
}
