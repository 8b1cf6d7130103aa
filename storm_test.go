package lakebase_test

import (
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase/lakebasetest"
)

// 200 goroutines connecting at once through a cold connector share one
// workspace login, one lookup and one mint, and all connect.
//
// Not parallel: the storm's 200 TLS handshakes and server sessions hold
// both cores for seconds under -race (more when the gateway logged in to
// the shared server with SCRAM, as it did before it used the server's
// trusted socket), and tests that run beside it and time their connections
// (a refresh that fails while the credential is valid, say) then met
// connects of 8 s. It runs while the parallel tests wait.
func TestStormOnColdConnectorMintsOnce(t *testing.T) {
	const goroutines = 200
	kit := newKit(t, lakebasetest.Options{MintLatency: 100 * time.Millisecond})
	conn, db := openConnector(t, kit.DSNs().M2M)
	db.SetMaxOpenConns(goroutines + 50)

	routes := []string{"token", "instance", "database-credential"}
	before := make(map[string]int)
	for _, r := range routes {
		before[r] = kit.Workspace.Requests(r)
	}
	mints := kit.Workspace.Mints()

	ctx := contextFor(t, time.Minute)
	start := make(chan struct{})
	conns := make([]*sql.Conn, goroutines)
	errs := make([]error, goroutines)
	var wg sync.WaitGroup
	for i := range goroutines {
		wg.Go(func() {
			<-start
			conns[i], errs[i] = db.Conn(ctx)
		})
	}
	began := time.Now()
	close(start)
	wg.Wait()
	took := time.Since(began)

	failed := 0
	for i, err := range errs {
		if err != nil {
			failed++
			if failed <= 3 {
				t.Errorf("connection %d: %v", i, err)
			}
			continue
		}
		var one int
		if err := conns[i].QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
			t.Errorf("query on connection %d: %v", i, err)
		}
	}
	open := db.Stats().OpenConnections
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
	t.Logf("storm: %d connections in %s, %d failed, %d open at once", goroutines, took, failed, open)
	if failed > 0 {
		t.Fatalf("%d of %d connections failed", failed, goroutines)
	}
	if open != goroutines {
		t.Errorf("%d connections open at once, want %d", open, goroutines)
	}
	if n := kit.Workspace.Mints() - mints; n != 1 {
		t.Errorf("%d credentials minted, want exactly 1", n)
	}
	for _, r := range routes {
		n := kit.Workspace.Requests(r) - before[r]
		if r == "instance" {
			// A dial that fails (a loaded machine drops some of 200 at once)
			// looks the host up again, by design: one lookup in flight at a
			// time, but not only one in all.
			t.Logf("%d instance lookups", n)
			if n < 1 {
				t.Errorf("no instance lookup")
			}
			continue
		}
		if n != 1 {
			t.Errorf("%d requests to route %s, want 1", n, r)
		}
	}
	if st := conn.Stats(); st.CredentialsMinted != 1 || st.MintFailures != 0 {
		t.Errorf("Stats: %d minted, %d failures; want 1 and 0", st.CredentialsMinted, st.MintFailures)
	}
}
