package lakebasepgx_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase/lakebasetest"
)

// A pool of 16, whose connections retire after a second, runs queries from
// 16 goroutines across several credential lifetimes without one failure,
// always as the service principal, minting about once per lifetime.
func TestPoolAcrossCredentialLifetimes(t *testing.T) {
	t.Parallel()
	const lifetime, run = 3 * time.Second, 10 * time.Second
	kit := lakebasetest.New(t, lakebasetest.Options{CredentialLifetime: lifetime})
	pool := newPool(t, kit.DSNs().M2M+" pool_max_conns=16 pool_max_conn_lifetime=1s pool_max_conn_lifetime_jitter=0s pool_health_check_period=200ms")
	want := kit.ServicePrincipal.ApplicationID

	var queries, failures atomic.Int64
	var firstErr sync.Once
	var wg sync.WaitGroup
	deadline := time.Now().Add(run)
	for range 16 {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				user, err := currentUser(ctx, pool)
				cancel()
				queries.Add(1)
				if err == nil && user != want {
					err = fmt.Errorf("current_user %q, want %q", user, want)
				}
				if err != nil {
					failures.Add(1)
					firstErr.Do(func() { t.Errorf("query: %v", err) })
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	wg.Wait()

	s := pool.Connector().Stats()
	t.Logf("%d queries, %d failed; %d connections; %d credentials minted", queries.Load(), failures.Load(), pool.Stat().NewConnsCount(), s.CredentialsMinted)
	if failures.Load() != 0 {
		t.Errorf("%d of %d queries failed, want none", failures.Load(), queries.Load())
	}
	if n := pool.Stat().NewConnsCount(); n < int64(run/time.Second) {
		t.Errorf("the pool opened %d connections in %v; want new ones every second", n, run)
	}
	// About one mint per lifetime, not one per connection: at least one per
	// lifetime passed, and at most one per three quarters of a lifetime (the
	// refresh starts in the last quarter), plus the first and one in flight,
	// plus one per login retried (see below).
	if min, max := uint64(run/lifetime), uint64(run/(lifetime*3/4))+2+s.LoginRetries; s.CredentialsMinted < min || s.CredentialsMinted > max {
		t.Errorf("%d credentials minted in %v of %v credentials; want %d to %d", s.CredentialsMinted, run, lifetime, min, max)
	}
	if s.MintFailures != 0 {
		t.Errorf("%d mint failures, want none", s.MintFailures)
	}
	// A login that takes longer than the safety margin (0.3 s of a 3 s
	// credential) reaches the gateway after its credential expired, on a
	// loaded machine: it is refused and retried with a new credential, as
	// designed, and no query fails. With hour-long credentials the margin
	// is 30 s.
	if s.LoginRetries > 0 {
		t.Logf("%d logins retried after their credential expired on the way", s.LoginRetries)
	}
}

// 1,000 goroutines acquiring at once from a cold pool (no login, host or
// credential yet) all get a connection, and the pool mints one credential.
func TestPoolColdStormMintsOnce(t *testing.T) {
	t.Parallel()
	kit := shared.Kit(t)
	sp := newServicePrincipal(t, kit)
	pool := newPool(t, m2mDSN(kit, sp, "instance="+lakebasetest.DefaultInstance, "pool_max_conns=16"))
	ctx := testContext(t, 2*time.Minute)

	var failures atomic.Int64
	var firstErr sync.Once
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 1000 {
		wg.Go(func() {
			<-start
			conn, err := pool.Acquire(ctx)
			if err == nil {
				var one int
				err = conn.QueryRow(ctx, "SELECT 1").Scan(&one)
				conn.Release()
			}
			if err != nil {
				failures.Add(1)
				firstErr.Do(func() { t.Errorf("acquire: %v", err) })
			}
		})
	}
	close(start)
	wg.Wait()
	if n := failures.Load(); n != 0 {
		t.Errorf("%d of 1000 acquires failed", n)
	}
	if n := kit.Workspace.MintsFor(sp.ApplicationID); n != 1 {
		t.Errorf("%d credentials minted for the storm, want 1", n)
	}
	if s := pool.Connector().Stats(); s.CredentialsMinted != 1 {
		t.Errorf("connector minted %d credentials, want 1", s.CredentialsMinted)
	}
}

// Credentials revoked early: the next new connection is refused with the
// revoked credential, drops it and logs in with a new one within the same
// Acquire, and the session opened before lives on. Revoked again at once,
// the new credential is replaced as well, since it had logged in.
func TestPoolCredentialRevoked(t *testing.T) {
	// Not parallel: RevokeCredentials revokes every credential of the kit.
	kit := lakebasetest.New(t, lakebasetest.Options{})
	pool := newPool(t, kit.DSNs().M2M)
	ctx := testContext(t, time.Minute)

	held := acquire(t, ctx, pool)
	mints, gate := kit.Workspace.Mints(), kit.InstanceGateway().Stats()

	for round := 1; round <= 2; round++ {
		kit.RevokeCredentials()
		conn := acquire(t, ctx, pool) // the held one is busy: a new connection
		var user string
		if err := conn.QueryRow(ctx, "SELECT current_user").Scan(&user); err != nil || user != kit.ServicePrincipal.ApplicationID {
			t.Errorf("revocation %d: current_user = %q, %v; want the service principal", round, user, err)
		}
	}
	if err := held.Ping(ctx); err != nil {
		t.Errorf("the session opened before the revocations: %v", err)
	}
	if n := kit.Workspace.Mints() - mints; n != 2 {
		t.Errorf("%d credentials minted after the revocations, want 2", n)
	}
	after := kit.InstanceGateway().Stats()
	if r, a := after.Rejected-gate.Rejected, after.Accepted-gate.Accepted; r != 2 || a != 2 {
		t.Errorf("gateway: %d logins rejected, %d accepted; want 2 and 2", r, a)
	}
	if s := pool.Connector().Stats(); s.LoginRetries != 2 {
		t.Errorf("%d logins retried, want 2", s.LoginRetries)
	}
}
