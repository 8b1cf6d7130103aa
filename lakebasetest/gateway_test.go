package lakebasetest

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase/internal/testenv"
	"github.com/lakebase-go/lakebase/lakebasetest/pgserver"
	"github.com/lib/pq"
)

const (
	alice          = "alice@example.com"
	bob            = "bob@example.com"
	robot          = "8d3f6a2e-1b4c-4e5f-9a7b-0c1d2e3f4a5b" // a service principal's application id
	nativeRole     = "app_native"
	nativePassword = "n4tive s3cret'"
)

var (
	db1Target = instanceTarget("db1")
	db2Target = instanceTarget("db2")
	epTarget  = endpointTarget("projects/p/branches/main/endpoints/ep")
)

// gatewayWorld is a server with roles for three identities and a native
// role, and the credential store its gateways share.
type gatewayWorld struct {
	t     *testing.T
	pg    *pgserver.Server
	store *credentialStore
	ahead atomic.Int64 // how far the store's clock runs ahead of time.Now
}

func newGatewayWorld(t *testing.T) *gatewayWorld {
	t.Helper()
	return newGatewayWorldOn(t, pgserver.New(t))
}

// newGatewayWorldOn is newGatewayWorld on the server pg.
func newGatewayWorldOn(t *testing.T, pg *pgserver.Server) *gatewayWorld {
	t.Helper()
	w := &gatewayWorld{t: t, pg: pg}
	w.store = newCredentialStore(func() time.Time { return time.Now().Add(time.Duration(w.ahead.Load())) })
	w.store.bindToTargets()
	ctx := context.Background()
	for _, role := range []string{alice, bob, robot} {
		if err := w.pg.CreateRole(ctx, role, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.pg.CreateRole(ctx, nativeRole, nativePassword); err != nil {
		t.Fatal(err)
	}
	return w
}

// gateway starts a gateway for target in front of w's server, closed when
// the test ends.
func (w *gatewayWorld) gateway(t *testing.T, target string, native bool) *Gateway {
	t.Helper()
	g, err := newGateway(gatewayOptions{Target: target, Store: w.store, Server: w.pg, NativeLogin: native})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// aliceGateway starts a world with a gateway for db1Target, and gives
// alice's DSN through it with a credential that lives an hour.
func aliceGateway(t *testing.T) (*gatewayWorld, *Gateway, string) {
	t.Helper()
	w := newGatewayWorld(t)
	g := w.gateway(t, db1Target, false)
	return w, g, w.dsn(g, alice, w.mint(alice, db1Target, time.Hour))
}

// dsn is a lib/pq DSN through g that verifies the kit's certificate.
func (w *gatewayWorld) dsn(g *Gateway, user, password string, extra ...string) string {
	return strings.Join(append([]string{testenv.TCPDSN("localhost", g.Port(), w.pg.CAFile(), user, password, pgserver.DefaultDatabase)}, extra...), " ")
}

// mint issues a credential for identity and target.
func (w *gatewayWorld) mint(identity, target string, ttl time.Duration) string {
	return w.store.issue(identity, target, ttl, nil).token
}

// wantWrongPassword fails t unless err is PostgreSQL's own answer to a
// wrong password.
func wantWrongPassword(t *testing.T, err error, user string) {
	t.Helper()
	testenv.WantSQLState(t, err, "28P01")
	var pqErr *pq.Error
	errors.As(err, &pqErr)
	want := `password authentication failed for user "` + user + `"`
	if pqErr.Severity != "FATAL" || pqErr.Message != want {
		t.Fatalf("error = %s %q, want FATAL %q", pqErr.Severity, pqErr.Message, want)
	}
}

// queryString runs a query that returns one string.
func queryString(t *testing.T, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, query string) string {
	t.Helper()
	var s string
	if err := q.QueryRowContext(context.Background(), query).Scan(&s); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return s
}

// waitFor polls cond for up to ten seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestGatewayLogin(t *testing.T) {
	t.Parallel()
	w := newGatewayWorld(t)
	g := w.gateway(t, db1Target, false)
	native := w.gateway(t, epTarget, true)

	t.Run("credential logs in as its identity", func(t *testing.T) {
		for _, id := range []string{alice, robot} {
			db := testenv.OpenPQ(t, w.dsn(g, id, w.mint(id, db1Target, time.Hour), "application_name=kit-test"))
			if got := queryString(t, db, "SELECT current_user"); got != id {
				t.Fatalf("current_user = %q, want %q", got, id)
			}
			if got := queryString(t, db, "SELECT current_setting('application_name')"); got != "kit-test" {
				t.Fatalf("application_name = %q; startup parameters must reach the server", got)
			}
		}
	})

	t.Run("misdirected or unknown credentials are refused", func(t *testing.T) {
		tests := []struct{ name, user, password string }{
			{"another identity's", alice, w.mint(bob, db1Target, time.Hour)},
			{"another instance's", alice, w.mint(alice, db2Target, time.Hour)},
			{"an endpoint's", alice, w.mint(alice, epTarget, time.Hour)},
			{"never minted", alice, "eyJhbGciOiJub25lIn0.e30.c2ln"},
			{"empty", alice, ""},
			{"native password without native login", nativeRole, nativePassword},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				wantWrongPassword(t, testenv.OpenPQ(t, w.dsn(g, tt.user, tt.password)).Ping(), tt.user)
			})
		}
	})

	t.Run("several credentials are valid at once", func(t *testing.T) {
		first, second := w.mint(alice, db1Target, time.Hour), w.mint(alice, db1Target, time.Hour)
		for _, token := range []string{first, second, first} {
			if err := testenv.OpenPQ(t, w.dsn(g, alice, token)).Ping(); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("expired credential is refused but its session lives on", func(t *testing.T) {
		cred := w.store.issue(alice, db1Target, time.Second, nil)
		conn := testenv.OpenSession(t, w.dsn(g, alice, cred.token))
		w.ahead.Add(int64(2 * time.Second)) // the credential expires

		wantWrongPassword(t, testenv.OpenPQ(t, w.dsn(g, alice, cred.token)).Ping(), alice)
		if got := queryString(t, conn, "SELECT current_user"); got != alice {
			t.Fatalf("current_user after expiry = %q", got)
		}
	})

	t.Run("native login", func(t *testing.T) {
		db := testenv.OpenPQ(t, w.dsn(native, nativeRole, nativePassword))
		if got := queryString(t, db, "SELECT current_user"); got != nativeRole {
			t.Fatalf("current_user = %q", got)
		}
		wantWrongPassword(t, testenv.OpenPQ(t, w.dsn(native, nativeRole, "wrong")).Ping(), nativeRole)
		// An identity has no password of its own; only credentials work.
		wantWrongPassword(t, testenv.OpenPQ(t, w.dsn(native, bob, "guess")).Ping(), bob)
		if err := testenv.OpenPQ(t, w.dsn(native, bob, w.mint(bob, epTarget, time.Hour))).Ping(); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("TLS is optional and verifiable by address", func(t *testing.T) {
		token := w.mint(alice, db1Target, time.Hour)
		for _, dsn := range []string{
			testenv.TCPDSN("127.0.0.1", g.Port(), w.pg.CAFile(), alice, token, pgserver.DefaultDatabase),
			w.dsn(g, alice, token, "sslmode=disable"),
		} {
			if err := testenv.OpenPQ(t, dsn).Ping(); err != nil {
				t.Fatalf("%v", err)
			}
		}
	})

	t.Run("the server's own refusals pass through", func(t *testing.T) {
		token := w.mint(alice, db1Target, time.Hour)
		testenv.WantSQLState(t, testenv.OpenPQ(t, w.dsn(g, alice, token, "dbname=nope")).Ping(), "3D000")
		testenv.WantSQLState(t, testenv.OpenPQ(t, w.dsn(g, alice, token, "no_such_setting=1")).Ping(), "42704")
		const carol = "carol@example.com" // minted for, but no role
		testenv.WantSQLState(t, testenv.OpenPQ(t, w.dsn(g, carol, w.mint(carol, db1Target, time.Hour))).Ping(), "28000")
	})

	t.Run("cancel reaches the server", func(t *testing.T) {
		db := testenv.OpenPQ(t, w.dsn(g, alice, w.mint(alice, db1Target, time.Hour)))
		if err := db.Ping(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := db.ExecContext(ctx, "SELECT pg_sleep(30)")
		if elapsed := time.Since(start); elapsed > 10*time.Second {
			t.Fatalf("query ran for %v; want it cancelled at once", elapsed)
		}
		testenv.WantSQLState(t, err, "57014") // the server cancelled it
	})
}

func TestGatewayCounters(t *testing.T) {
	t.Parallel()
	w, g, dsn := aliceGateway(t)
	db := testenv.OpenPQ(t, dsn)
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	_ = testenv.OpenPQ(t, w.dsn(g, alice, "wrong")).Ping()
	if got, want := g.Stats(), (GatewayStats{Accepted: 1, Rejected: 1, Live: 1}); got != want {
		t.Fatalf("stats = %+v, want %+v", got, want)
	}
	db.Close()
	waitFor(t, "the session to end", func() bool { return g.Stats().Live == 0 })
}

func TestGatewayWaking(t *testing.T) {
	t.Parallel()
	_, g, dsn := aliceGateway(t)

	g.Waking(2, 0)
	for range 2 {
		err := testenv.OpenPQ(t, dsn).Ping()
		testenv.WantSQLState(t, err, "57P03")
		if !strings.Contains(err.Error(), "the database system is starting up") {
			t.Fatalf("error = %v", err)
		}
	}
	if err := testenv.OpenPQ(t, dsn).Ping(); err != nil {
		t.Fatalf("third connection: %v", err)
	}
	if got := g.Stats().Refused; got != 2 {
		t.Fatalf("refused = %d, want 2", got)
	}

	const hold = 300 * time.Millisecond
	g.Waking(0, hold)
	start := time.Now()
	if err := testenv.OpenPQ(t, dsn).Ping(); err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed < hold-20*time.Millisecond {
		t.Fatalf("login took %v, want it held for %v", elapsed, hold)
	}
}

func TestGatewayRestart(t *testing.T) {
	t.Parallel()
	w, g, dsn := aliceGateway(t)
	db := testenv.OpenPQ(t, dsn)
	db.SetMaxOpenConns(2)
	ctx := context.Background()
	idle, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	busy, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	inFlight := make(chan error, 1)
	go func() {
		_, err := busy.ExecContext(ctx, "SELECT pg_sleep(30)")
		inFlight <- err
	}()
	admin := testenv.OpenPQ(t, w.pg.SuperuserDSN())
	waitFor(t, "the query to run", func() bool {
		var n int
		_ = admin.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'`).Scan(&n)
		return n == 1
	})

	g.Restart()
	select {
	case err := <-inFlight:
		if err == nil {
			t.Fatal("in-flight query succeeded across a restart")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("in-flight query still running after a restart")
	}
	if _, err := idle.ExecContext(ctx, "SELECT 1"); err == nil {
		t.Fatal("idle session survived a restart")
	}
	waitFor(t, "no live session", func() bool { return g.Stats().Live == 0 })
	if err := testenv.OpenPQ(t, w.dsn(g, alice, w.mint(alice, db1Target, time.Hour))).Ping(); err != nil {
		t.Fatalf("new connection after restart: %v", err)
	}
}

func TestGatewayOutage(t *testing.T) {
	t.Parallel()
	_, g, dsn := aliceGateway(t)
	conn := testenv.OpenSession(t, dsn)

	if err := g.SetOutage(true); err != nil {
		t.Fatal(err)
	}
	if err := testenv.OpenPQ(t, dsn).Ping(); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("login during an outage: %v, want connection refused", err)
	}
	if err := conn.PingContext(context.Background()); err == nil {
		t.Fatal("session survived an outage")
	}

	if err := g.SetOutage(false); err != nil {
		t.Fatal(err)
	}
	if err := testenv.OpenPQ(t, dsn).Ping(); err != nil {
		t.Fatalf("login after the outage: %v", err)
	}
}

func TestGatewayClose(t *testing.T) {
	t.Parallel()
	_, g, dsn := aliceGateway(t)
	conn := testenv.OpenSession(t, dsn)

	// Keep logins arriving while the gateway closes.
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			db, _ := sql.Open("postgres", dsn)
			_ = db.Ping()
			db.Close()
		}
	}()
	waitFor(t, "logins during Close", func() bool { return g.Stats().Accepted > 1 })
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	stop.Store(true)
	<-done

	if err := conn.PingContext(context.Background()); err == nil {
		t.Fatal("session survived Close")
	}
	if got := g.Stats().Live; got != 0 {
		t.Fatalf("live sessions after Close = %d", got)
	}
	if err := g.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := g.SetOutage(false); err == nil {
		t.Fatal("SetOutage on a closed gateway succeeded")
	}
}

func TestGatewayOnExistingServer(t *testing.T) {
	t.Parallel()
	p := existingServer(t)
	ctx := context.Background()
	if err := p.CreateRole(ctx, alice, ""); err != nil {
		t.Fatal(err)
	}
	if err := p.CreateRole(ctx, nativeRole, nativePassword); err != nil {
		t.Fatal(err)
	}
	w := &gatewayWorld{t: t, pg: p, store: newCredentialStore(nil)}
	g := w.gateway(t, db1Target, true)

	db := testenv.OpenPQ(t, w.dsn(g, alice, w.mint(alice, db1Target, time.Hour)))
	if got := queryString(t, db, "SELECT current_user"); got != alice {
		t.Fatalf("current_user = %q", got)
	}
	if err := testenv.OpenPQ(t, w.dsn(g, nativeRole, nativePassword)).Ping(); err != nil {
		t.Fatal(err)
	}
	wantWrongPassword(t, testenv.OpenPQ(t, w.dsn(g, alice, "internal password guess")).Ping(), alice)
}

func TestGatewayStorm(t *testing.T) {
	t.Parallel()
	w := newGatewayWorld(t)
	g := w.gateway(t, db1Target, true)
	const sessions = 64
	creds := []string{w.mint(alice, db1Target, time.Hour), w.mint(bob, db1Target, time.Hour)}
	dbs := []*sql.DB{
		testenv.OpenPQ(t, w.dsn(g, alice, creds[0])),
		testenv.OpenPQ(t, w.dsn(g, bob, creds[1])),
		testenv.OpenPQ(t, w.dsn(g, nativeRole, nativePassword)),
	}
	for _, db := range dbs {
		db.SetMaxOpenConns(sessions)
		db.SetMaxIdleConns(sessions)
	}

	errs := make(chan error, sessions)
	for i := range sessions {
		go func() {
			_, err := dbs[i%len(dbs)].Exec("SELECT pg_sleep(0.3)")
			errs <- err
		}()
	}
	waitFor(t, "every session to be live", func() bool { return g.Stats().Live == sessions })
	for range sessions {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := g.Stats(); got.Accepted != sessions || got.Rejected != 0 {
		t.Fatalf("stats = %+v, want %d accepted", got, sessions)
	}
}

// existingServer starts a throwaway server and returns it as an existing
// server named by URL, which the kit does not own; both stop when the test
// ends.
func existingServer(t *testing.T) *pgserver.Server {
	t.Helper()
	p, err := pgserver.Start(context.Background(), pgserver.Options{URL: pgserver.New(t).SuperuserDSN()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop() })
	return p
}
