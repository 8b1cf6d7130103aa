package lakebase_test

import (
	"errors"
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
