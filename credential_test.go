package lakebase_test

import (
	"database/sql"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
	"github.com/lib/pq"
	_ "github.com/lib/pq" // the superuser's view of the server
)

// connectSample is one timed connect of the rotation test.
type connectSample struct {
	inside bool // it started while the current credential was in its refresh window
	took   time.Duration
}

// slowest returns the longest connect inside or outside the refresh window,
// and how many there were.
func slowest(samples []connectSample, inside bool) (time.Duration, int) {
	var worst time.Duration
	n := 0
	for _, s := range samples {
		if s.inside == inside {
			worst = max(worst, s.took)
			n++
		}
	}
	return worst, n
}

// Credentials living 6 s (scaled: see harness_test.go) rotate under steady load with every query on a new
// connection: no query fails; the workspace mints once per rotation, each
// refresh starting inside the refresh window and landing before the current
// credential runs out; and no connect waits for a mint once the first
// credential exists: none waits in the cache, and connects inside the
// refresh window are as fast as the others.
//
// It does not run in parallel with other tests: it compares connect times,
// and other tests' connection storms on the same machine would swamp them.
func TestRotationUnderLoad(t *testing.T) {
	const workers = 3
	var (
		lifetime = scaled(6 * time.Second)
		latency  = scaled(200 * time.Millisecond)
		duration = scaled(30 * time.Second)
		slack    = scaled(20 * time.Millisecond)
	)
	// The cache's defaults: a credential is handed out until margin before
	// its expiry, and refreshed from window before it. The next one is
	// issued latency after the refresh starts, so rotations are interval
	// apart, or a little more when no connect comes right at the window.
	margin := min(30*time.Second, lifetime/10)
	window := min(5*time.Minute, lifetime/4)
	interval := lifetime - window + latency

	kit, conn, db, logs := ownKitM2M(t, lakebasetest.Options{CredentialLifetime: lifetime, MintLatency: latency}, nil)
	db.SetMaxIdleConns(0)
	mustCurrentUser(t, db) // the first credential
	s := kitSecrets(kit)
	s.addCredential(t, conn)

	gate := kit.InstanceGateway()
	first := conn.Stats()
	mints0, accepted0 := kit.Workspace.Mints(), gate.Stats().Accepted
	ctx := contextFor(t, duration+30*time.Second)
	began := time.Now()
	stop := began.Add(duration)

	var (
		mu       sync.Mutex
		samples  []connectSample
		failures atomic.Int64
		wg       sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			var own []connectSample
			for time.Now().Before(stop) {
				expiry := conn.Stats().CredentialExpiry
				start := time.Now()
				inside := expiry.Sub(start) <= window
				c, err := db.Conn(ctx)
				took := time.Since(start)
				if err != nil {
					if failures.Add(1) <= 3 {
						t.Errorf("connect: %v", err)
					}
					continue
				}
				own = append(own, connectSample{inside: inside, took: took})
				var user string
				if err := c.QueryRowContext(ctx, "SELECT current_user").Scan(&user); err != nil {
					if failures.Add(1) <= 3 {
						t.Errorf("query: %v", err)
					}
				}
				c.Close()
			}
			mu.Lock()
			samples = append(samples, own...)
			mu.Unlock()
		})
	}
	// Watch the credentials rotate: their expiries, and their values, to
	// look for them in the log. The watcher asks for the credential as often
	// as a busy application's pool would, so that refreshes start as the
	// window opens, however long this machine's connects take.
	expiries := []time.Time{first.CredentialExpiry}
	wg.Go(func() {
		for time.Now().Before(stop) {
			if tok, err := conn.Credential(ctx); err == nil && !tok.Expiry.Equal(expiries[len(expiries)-1]) {
				expiries = append(expiries, tok.Expiry)
				s.add(tok.Value)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	wg.Wait()
	elapsed := time.Since(began)
	// A refresh started at the end lands before the count.
	for conn.Stats().Refreshing && time.Since(began) < duration+10*time.Second {
		time.Sleep(10 * time.Millisecond)
	}
	if e := conn.Stats().CredentialExpiry; !e.Equal(expiries[len(expiries)-1]) {
		expiries = append(expiries, e)
	}

	mints := kit.Workspace.Mints() - mints0
	connections := gate.Stats().Accepted - accepted0
	expected := float64(elapsed) / float64(interval)
	inside, nInside := slowest(samples, true)
	outside, nOutside := slowest(samples, false)
	st := conn.Stats()
	waits := st.CredentialWaits - first.CredentialWaits
	var longest time.Duration
	for i := 1; i < len(expiries); i++ {
		longest = max(longest, expiries[i].Sub(expiries[i-1]))
	}
	t.Logf("rotation: connections=%d failed=%d mints=%d expected_mints=%.1f credential_waits=%d elapsed=%s refresh_interval=%s margin=%s window=%s slowest_inside_window=%s slowest_outside_window=%s connects_inside=%d connects_outside=%d mint_latency=%s workers=%d longest_rotation=%s",
		connections, failures.Load(), mints, expected, waits, elapsed.Round(time.Millisecond), interval, margin, window,
		inside.Round(time.Millisecond), outside.Round(time.Millisecond), nInside, nOutside, latency, workers, longest.Round(time.Millisecond))

	if n := failures.Load(); n != 0 {
		t.Errorf("%d connects or queries failed, want 0", n)
	}
	if connections != int64(len(samples)) {
		t.Errorf("the gateway accepted %d logins for %d connects: not every query had a new connection", connections, len(samples))
	}
	// One mint per rotation, none before the window opens. (A rotation
	// landing after the current credential stopped being handed out would
	// make the connects in between wait: credential_waits counts them.)
	if rotations := len(expiries) - 1; mints != rotations {
		t.Errorf("%d mints for %d rotations of the connector's credential, want one each", mints, rotations)
	}
	for i := 1; i < len(expiries); i++ {
		if gap := expiries[i].Sub(expiries[i-1]); gap < lifetime-window {
			t.Errorf("rotation %d came %s after the one before, before the refresh window opened (%s)", i, gap, lifetime-window)
		}
	}
	if lo, hi := float64(elapsed)/float64(lifetime-margin)-1, float64(elapsed)/float64(lifetime-window)+1; float64(mints) < lo || float64(mints) > hi {
		t.Errorf("%d mints in %s, want between %.1f and %.1f (expected about %.1f)", mints, elapsed, lo, hi, expected)
	}
	if waits != 0 {
		t.Errorf("%d connects waited for a credential after the first one existed, want 0", waits)
	}
	if st.MintFailures != 0 || st.LoginRetries != 0 {
		t.Errorf("Stats: %d mint failures, %d login retries; want none", st.MintFailures, st.LoginRetries)
	}
	if nInside == 0 || nOutside == 0 {
		t.Fatalf("%d connects inside the refresh window and %d outside: the test did not exercise rotation", nInside, nOutside)
	}
	if limit := outside*3/2 + slack; inside > limit {
		t.Errorf("slowest connect inside the refresh window %s > 1.5 × slowest outside (%s) + %s: a connect waited for a mint", inside, outside, slack)
	}
	// A connect that waited for a mint takes at least the mint latency. Where
	// ordinary connects are faster than that, none inside the window may
	// take as long; where they are not (PostgreSQL forks a process per
	// connection, slow on some machines), the comparison above decides.
	if outside < latency && inside >= latency {
		t.Errorf("a connect inside the refresh window took %s, as long as a mint (%s), while none outside took that long", inside, latency)
	}
	s.check(t, logs)
}

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

// Lakebase describes a credential as workspace-scoped. This measures what
// sharing one credential of an identity between two connectors to two
// instances would save, against one credential per connector (the driver's
// way), over the same run of connections through two rotations: the
// shared pair mints half as often, and neither way makes a connection wait
// for a credential after the first. The README gives the decision.
func TestWorkspaceScopedCredentialSharing(t *testing.T) {
	e := newFaultEnv(t)
	lifetime := scaled(3 * time.Second)
	e.kit.Workspace.SetCredentialLifetime(lifetime)
	second := addInstance(t, e.kit, lakebasetest.InstanceOptions{})

	measure := func(share bool) (mints int, waits uint64) {
		sp := newServicePrincipal(t, e.kit)
		e.keepSecret(sp.Secret)
		a, connA := e.open(e.dsnFor(sp))
		b, connB := e.open(e.dsnWith("instance="+second, m2mAuth(sp)), func(c *lakebase.Config) {
			if share {
				c.TokenSource = lakebase.TokenSourceFunc(connA.Credential)
			}
		})
		a.SetMaxIdleConns(0)
		b.SetMaxIdleConns(0)
		deadline := time.Now().Add(2 * lifetime)
		var wg sync.WaitGroup
		for _, db := range []*sql.DB{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(deadline) {
					if err := e.ping(db, 10*time.Second); err != nil {
						t.Errorf("share %t: %v", share, err)
						return
					}
					time.Sleep(50 * time.Millisecond)
				}
			}()
		}
		wg.Wait()
		return e.kit.Workspace.MintsFor(sp.ApplicationID), connA.Stats().CredentialWaits + connB.Stats().CredentialWaits
	}
	own, ownWaits := measure(false)
	shared, sharedWaits := measure(true)
	t.Logf("two connectors, two instances, %s of connections (credential lifetime %s): one credential each: %d mints, %d waits; one shared: %d mints, %d waits",
		2*lifetime, lifetime, own, ownWaits, shared, sharedWaits)
	if shared >= own {
		t.Errorf("sharing minted %d, one each minted %d: a workspace-scoped credential should halve the mints", shared, own)
	}
	e.waitNoLeaksAfterClose()
}

// A credential scoped with claims reads the Postgres counterparts of the
// Unity Catalog tables it claims, and cannot write them; a connector
// without claims mints its own credential, which cannot read them once no
// scoped session holds the grant; a claim of a table the identity holds no
// permission on fails the mint.
func TestClaimsScopeTheCredential(t *testing.T) {
	kit := sharedKit(t)
	sp := newServicePrincipal(t, kit)
	schema := uniqueName("sales")
	schema = strings.ReplaceAll(schema, "-", "_")
	admin, err := sql.Open("postgres", kit.Postgres.SuperuserDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for _, stmt := range []string{
		"CREATE SCHEMA " + schema,
		"CREATE TABLE " + schema + ".orders (id int)",
		"INSERT INTO " + schema + ".orders VALUES (1), (2), (3)",
		"CREATE TABLE " + schema + ".items (id int)",
	} {
		if _, err := admin.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	orders, items := "main."+schema+".orders", "main."+schema+".items"
	kit.Workspace.GrantTable(sp.ApplicationID, orders)
	base := "instance=" + lakebasetest.DefaultInstance + " " + m2mKeys(kit, sp)

	_, scoped := openConnector(t, base+" claims=read_only:"+orders)
	var n int
	if err := scoped.QueryRow("SELECT count(*) FROM " + schema + ".orders").Scan(&n); err != nil || n != 3 {
		t.Fatalf("scoped read = %d, %v; want 3 rows", n, err)
	}
	var pe *pq.Error
	if _, err := scoped.Exec("INSERT INTO " + schema + ".orders VALUES (4)"); !errors.As(err, &pe) || pe.Code != "42501" {
		t.Errorf("scoped write = %v; want permission denied (42501)", err)
	}
	if err := scoped.QueryRow("SELECT count(*) FROM " + schema + ".items").Scan(&n); !errors.As(err, &pe) || pe.Code != "42501" {
		t.Errorf("scoped read of an unclaimed table = %v; want permission denied (42501)", err)
	}
	mints := kit.Workspace.MintsFor(sp.ApplicationID)
	scoped.Close() // its sessions end, and so do their grants

	_, plain := openConnector(t, base)
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := plain.QueryRow("SELECT count(*) FROM " + schema + ".orders").Scan(&n)
		if errors.As(err, &pe) && pe.Code == "42501" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("read without claims = %d, %v; want permission denied (42501)", n, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := kit.Workspace.MintsFor(sp.ApplicationID) - mints; got != 1 {
		t.Errorf("%d mints for the connector without claims, want 1: a scoped credential serves only its own connector", got)
	}

	_, denied := openConnector(t, base+" claims=read_only:"+orders+",read_only:"+items)
	err = denied.Ping()
	wantConnectError(t, err, "mint", items)
	if !errors.Is(err, lakebase.ErrPermissionDenied) {
		t.Errorf("errors.Is(%v, ErrPermissionDenied) = false", err)
	}
}
