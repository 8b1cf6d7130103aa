package lakebase_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
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
