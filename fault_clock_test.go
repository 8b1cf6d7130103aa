package lakebase_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
	_ "github.com/lib/pq" // the superuser's view of the server
)

// Fault 9: the wall clock jumps past the credential's expiry, as when a
// laptop wakes from sleep.
func TestFaultClockJumpPastExpiry(t *testing.T) {
	e := newFaultEnv(t)
	e.kit.Workspace.SetCredentialLifetime(scaled(time.Second))
	// The driver's clock starts an hour behind, so the first credential
	// looks good for an hour; the jump sets it right.
	var behind atomic.Int64
	behind.Store(int64(time.Hour))
	clock := func() time.Time { return time.Now().Add(-time.Duration(behind.Load())) }
	db, c := e.open(e.dsn(), func(cfg *lakebase.Config) { lakebase.SetClock(cfg, clock) })
	db.SetMaxIdleConns(0)
	if err := e.ping(db, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	expiry := c.Stats().CredentialExpiry
	waitFor(t, 10*time.Second, "the credential expires: the gateway now refuses it", func() bool { return time.Now().After(expiry) })

	// The credential minted after the jump lasts, so that the pings below,
	// however slow a loaded machine makes them, do not reach its refresh.
	e.kit.Workspace.SetCredentialLifetime(time.Hour)
	behind.Store(0) // the jump
	rejected := e.gateway.Stats().Rejected
	for range 3 {
		if err := e.ping(db, 10*time.Second); err != nil {
			t.Fatalf("Ping after the clock jump: %v", err)
		}
	}
	if n := e.gateway.Stats().Rejected - rejected; n != 0 {
		t.Errorf("the gateway rejected %d logins: an expired credential was presented", n)
	}
	if n := e.kit.Workspace.MintsForInstance(e.instance); n != 2 {
		t.Errorf("%d mints, want 2: one before the jump, one after", n)
	}
	if n := c.Stats().LoginRetries; n != 0 {
		t.Errorf("Stats.LoginRetries = %d, want 0", n)
	}
	e.waitNoLeaksAfterClose()
}

// A credential whose expiry the workspace leaves out, or writes in a form
// that does not parse, is still cached for its documented hour (with a debug
// log), not minted again for every connection; any RFC 3339 form of it is
// read as written.
func TestFaultExpiryMissingOrInAnotherForm(t *testing.T) {
	for _, tt := range []struct {
		name     string
		format   func(time.Time) string
		lifetime time.Duration // what the driver should take it to be
		logged   string        // in the debug log; empty: nothing
	}{
		{name: "missing", format: func(time.Time) string { return "" }, lifetime: time.Hour, logged: "gave no expiry"},
		{name: "unreadable", format: func(time.Time) string { return "1717243200" }, lifetime: time.Hour, logged: "expiry is unreadable"},
		{name: "space and lower case", format: func(e time.Time) string {
			return strings.ToLower(e.UTC().Format("2006-01-02 15:04:05Z"))
		}, lifetime: 10 * time.Minute},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newFaultEnv(t)
			e.kit.Workspace.SetCredentialLifetime(10 * time.Minute)
			e.kit.Workspace.SetExpiryFormat(tt.format)
			t.Cleanup(func() { e.kit.Workspace.SetExpiryFormat(nil) })
			db, c := e.open(e.dsn())
			db.SetMaxIdleConns(0)
			for range 5 {
				if err := e.ping(db, 10*time.Second); err != nil {
					t.Fatal(err)
				}
			}
			if n := e.kit.Workspace.MintsForInstance(e.instance); n != 1 {
				t.Errorf("%d mints for 5 connections, want 1", n)
			}
			want := time.Now().Add(tt.lifetime)
			if got := c.Stats().CredentialExpiry; got.Before(want.Add(-10*time.Second)) || got.After(want.Add(time.Second)) {
				t.Errorf("Stats.CredentialExpiry = %v, want about %v", got, want)
			}
			if tt.logged != "" && !strings.Contains(e.logs.String(), tt.logged) {
				t.Errorf("the fallback was not logged:\n%s", e.logs)
			}
			e.waitNoLeaksAfterClose()
		})
	}
}
