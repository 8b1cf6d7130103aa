package lakebase_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
	"github.com/lib/pq"
	_ "github.com/lib/pq" // the superuser's view of the server
)

// A cached credential that the gateway rejects (revoked early) is dropped;
// the login is retried once with a fresh mint, and succeeds.
func TestFailureCredentialRejectedByGateway(t *testing.T) {
	t.Parallel()
	kit, conn, db, logs := ownKitM2M(t, lakebasetest.Options{}, nil)
	db.SetMaxIdleConns(0)
	mustCurrentUser(t, db)
	s := kitSecrets(kit)
	s.addCredential(t, conn)

	kit.RevokeCredentials()
	gate := kit.InstanceGateway().Stats()
	if got := mustCurrentUser(t, db); got != kit.ServicePrincipal.ApplicationID {
		t.Errorf("current_user = %q", got)
	}
	after := kit.InstanceGateway().Stats()
	if st := conn.Stats(); st.LoginRetries != 1 || st.CredentialsMinted != 2 {
		t.Errorf("Stats: %d login retries, %d credentials; want 1 and 2", st.LoginRetries, st.CredentialsMinted)
	}
	if n := kit.Workspace.Mints(); n != 2 {
		t.Errorf("%d credentials minted, want 2", n)
	}
	if r, a := after.Rejected-gate.Rejected, after.Accepted-gate.Accepted; r != 1 || a != 1 {
		t.Errorf("gateway: %d rejected, %d accepted; want 1 and 1", r, a)
	}
	if !strings.Contains(logs.String(), "login rejected") {
		t.Errorf("the retry was not logged:\n%s", logs)
	}
	s.addCredential(t, conn)
	s.check(t, logs)
}

// fillPool opens n connections at once and returns them to db's pool.
func fillPool(t *testing.T, db *sql.DB, n int) {
	t.Helper()
	conns := make([]*sql.Conn, n)
	for i := range conns {
		c, err := db.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c
	}
	for _, c := range conns {
		_ = c.Close()
	}
}

// queryOne runs SELECT 1 within d.
func queryOne(e *faultEnv, db *sql.DB, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var one int
	return e.record(db.QueryRowContext(ctx, "SELECT 1").Scan(&one))
}

// Fault 5: the gateway restarts, dropping every session. The query in flight
// fails; once its session is seen ending, the pool's other sessions, used
// moments ago, are looked at before their next request and replaced, so the
// queries after the restart all succeed.
func TestFaultGatewayRestart(t *testing.T) {
	e := newFaultEnv(t)
	db, _ := e.open(e.dsn())
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	fillPool(t, db, 4)

	inFlight := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := db.ExecContext(ctx, "SELECT pg_sleep(20) -- fault gateway restart")
		inFlight <- e.record(err)
	}()
	waitRunning(t, "fault gateway restart", false) // the query is in flight
	restart := time.Now()
	accepted := e.gateway.Stats().Accepted
	e.gateway.Restart()

	select {
	case err := <-inFlight:
		if err == nil {
			t.Error("the query in flight during the restart succeeded; want an error")
		}
		if took := time.Since(restart); took > 2*time.Second {
			t.Errorf("the query in flight failed %s after the restart; want at once", took)
		}
		t.Logf("query in flight: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the query in flight hangs after the restart")
	}
	for i := range 8 {
		if err := queryOne(e, db, 10*time.Second); err != nil {
			t.Fatalf("query %d after the restart: %v", i, err)
		}
	}
	if n := e.gateway.Stats().Accepted - accepted; n < 1 || n > 4 {
		t.Errorf("%d new logins after the restart, want between 1 and 4", n)
	}
	e.waitNoLeaksAfterClose()
}

// Fault 6: the database is out, then back, without restarting the program.
// The pool's sessions sat idle, so the driver looks at them before a
// request, finds them ended and dials: the queries fail at the dial.
func TestFaultDatabaseOutage(t *testing.T) {
	e := newFaultEnv(t)
	db, _ := e.open(e.dsn())
	fillPool(t, db, 2)
	if err := e.gateway.SetOutage(true); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		start := time.Now()
		err := queryOne(e, db, 5*time.Second)
		var ce *lakebase.ConnectError
		if !errors.As(err, &ce) || ce.Step != "dial" {
			t.Fatalf("query %d during the outage = %v; want a dial error", i, err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("query %d during the outage failed after %s; want at once", i, took)
		}
		if i == 0 {
			t.Logf("during the outage: %v", err)
		}
	}
	if err := e.gateway.SetOutage(false); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := queryOne(e, db, 10*time.Second); err != nil {
			t.Fatalf("query %d after the outage: %v", i, err)
		}
	}
	e.waitNoLeaksAfterClose()
}

// Fault 7: an Autoscaling endpoint wakes from scale to zero, refusing or
// holding the first connections.
func TestFaultWakingEndpoint(t *testing.T) {
	e := newFaultEnv(t)
	path := "projects/fault/branches/main/endpoints/" + e.instance
	gw, err := e.kit.AddEndpoint(lakebasetest.EndpointOptions{Path: path, State: "IDLE"})
	if err != nil {
		t.Fatal(err)
	}
	db, _ := e.open(e.dsnWith("endpoint="+path, m2mAuth(e.kit.ServicePrincipal)))
	db.SetMaxIdleConns(0)

	t.Run("refused while waking", func(t *testing.T) {
		gw.Waking(3, 0)
		if err := e.ping(db, 10*time.Second); err != nil {
			t.Fatalf("Ping while waking: %v", err)
		}
		if n := gw.Stats().Refused; n != 3 {
			t.Errorf("the gateway refused %d connections, want 3", n)
		}
	})
	t.Run("held while waking", func(t *testing.T) {
		const hold = 1500 * time.Millisecond
		gw.Waking(0, hold)
		start := time.Now()
		if err := e.ping(db, 10*time.Second); err != nil {
			t.Fatalf("Ping while waking: %v", err)
		}
		if took := time.Since(start); took < hold-200*time.Millisecond {
			t.Errorf("Ping took %s; the gateway held it for %s", took, hold)
		}
	})
	t.Run("held past the deadline", func(t *testing.T) {
		gw.Waking(0, 2*time.Second)
		defer gw.Waking(0, 0)
		start := time.Now()
		if err := e.ping(db, 300*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Ping held past its deadline = %v; want context.DeadlineExceeded", err)
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("Ping took %s with a 300ms deadline", took)
		}
	})
	t.Run("budget too short", func(t *testing.T) {
		gw.Waking(1000, 0)
		defer gw.Waking(0, 0)
		start := time.Now()
		err := e.ping(db, time.Second)
		var pe *pq.Error
		if !errors.Is(err, context.DeadlineExceeded) && !(errors.As(err, &pe) && pe.Code == "57P03") {
			t.Fatalf("Ping still refused at the deadline = %v; want the deadline or 57P03", err)
		}
		if took := time.Since(start); took > 1500*time.Millisecond {
			t.Errorf("Ping took %s with a 1s deadline", took)
		}
	})
	if err := e.kit.Workspace.UpdateEndpoint(path, func(ep *lakebasetest.Endpoint) { ep.State = "ACTIVE" }); err != nil {
		t.Fatal(err)
	}
	if err := e.ping(db, 10*time.Second); err != nil {
		t.Fatalf("Ping once awake: %v", err)
	}
	e.waitNoLeaksAfterClose()
}

// Fault 8: after a failover the instance's host is elsewhere.
func TestFaultHostChange(t *testing.T) {
	e := newFaultEnv(t)
	ws := e.kit.Workspace
	db, _ := e.open(e.dsn())
	db.SetMaxIdleConns(0)
	if err := e.ping(db, 10*time.Second); err != nil {
		t.Fatal(err)
	}

	t.Run("moved", func(t *testing.T) {
		next, err := e.kit.StartFailoverGateway(e.instance)
		if err != nil {
			t.Fatal(err)
		}
		lookups := ws.Requests("instance")
		if err := e.gateway.SetOutage(true); err != nil {
			t.Fatal(err)
		}
		if err := ws.UpdateInstance(e.instance, func(i *lakebasetest.Instance) { i.ReadWriteHost, i.ReadOnlyHost = next.Addr(), "" }); err != nil {
			t.Fatal(err)
		}
		if err := e.ping(db, 10*time.Second); err != nil {
			t.Fatalf("Ping after the host moved: %v", err)
		}
		if n := next.Stats().Accepted; n != 1 {
			t.Errorf("the new host let in %d connections, want 1", n)
		}
		if n := ws.Requests("instance") - lookups; n != 1 {
			t.Errorf("%d lookups, want 1", n)
		}
		if err := e.ping(db, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if n := ws.Requests("instance") - lookups; n != 1 {
			t.Errorf("%d lookups after a second connection, want still 1", n)
		}
		e.gateway = next
	})

	t.Run("failing over", func(t *testing.T) {
		next, err := e.kit.StartFailoverGateway(e.instance)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.gateway.SetOutage(true); err != nil {
			t.Fatal(err)
		}
		if err := ws.UpdateInstance(e.instance, func(i *lakebasetest.Instance) { i.State = "FAILING_OVER" }); err != nil {
			t.Fatal(err)
		}
		// The failover ends once the driver says it waits for it.
		overAt := readyOnceWaiting(t, e.logs, func() error {
			return errors.Join(ws.UpdateInstance(e.instance, func(i *lakebasetest.Instance) { i.ReadWriteHost, i.ReadOnlyHost = next.Addr(), "" }), ws.UpdateInstance(e.instance, func(i *lakebasetest.Instance) { i.State = "AVAILABLE" }))
		})
		if err := e.ping(db, 10*time.Second); err != nil {
			t.Fatalf("Ping during the failover: %v", err)
		}
		if overAt().IsZero() {
			t.Error("the Ping succeeded before the failover ended")
		}
		if n := next.Stats().Accepted; n != 1 {
			t.Errorf("the new host let in %d connections, want 1", n)
		}
	})
	e.waitNoLeaksAfterClose()
}

// A query whose context ends is cancelled on the server too, whichever
// context opened its connection.
func TestFaultQueryDeadline(t *testing.T) {
	e := newFaultEnv(t)
	db, _ := e.open(e.dsn())
	db.SetMaxOpenConns(1)
	if err := e.ping(db, 10*time.Second); err != nil { // the connection's context ends here
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := db.ExecContext(ctx, "SELECT pg_sleep(30) -- fault query deadline")
	var pe *pq.Error
	if !errors.Is(err, context.DeadlineExceeded) && !(errors.As(err, &pe) && pe.Code == "57014") {
		t.Errorf("ExecContext past its deadline = %v; want the deadline or 57014 (query_canceled)", e.record(err))
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("ExecContext returned %s after its 300ms deadline", took)
	}
	waitFor(t, 5*time.Second, "the query ends on the server after its deadline", func() bool {
		var running int
		err := db.QueryRowContext(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE state = 'active' AND query LIKE '%fault query deadline'`).Scan(&running)
		if err != nil {
			t.Fatal(err)
		}
		return running == 0
	})
	e.waitNoLeaksAfterClose()
}

// Fault 5 again, under writes: whatever lib/pq makes of a session that ends
// mid-statement (TCP's end, TLS's close_notify), database/sql must not run
// the statement a second time.
func TestFaultRestartsDoNotRepeatWrites(t *testing.T) {
	e := newFaultEnv(t)
	db, _ := e.open(e.dsn())
	db.SetMaxOpenConns(8)
	table := "writes_" + strings.ReplaceAll(e.instance, "-", "_")
	if _, err := db.Exec("CREATE TABLE " + table + " (writer int, seq int)"); err != nil {
		t.Fatal(e.record(err))
	}
	ctx, stop := context.WithTimeout(context.Background(), 4*time.Second)
	defer stop()
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			time.Sleep(700 * time.Millisecond)
			if ctx.Err() != nil {
				return // a restart after the writes would only test the count below
			}
			e.gateway.Restart()
		}
	})
	var failed atomic.Int64
	start := time.Now()
	for w := range 8 {
		wg.Go(func() {
			for seq := 0; ctx.Err() == nil; seq++ {
				opCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err := db.ExecContext(opCtx, "INSERT INTO "+table+" VALUES ($1, $2)", w, seq)
				cancel()
				if e.record(err) != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	t.Logf("writes stopped after %s", since(start))
	var twice, rows int
	err := db.QueryRow(`SELECT count(*) FILTER (WHERE n > 1), coalesce(sum(n), 0)
		FROM (SELECT count(*) AS n FROM `+table+` GROUP BY writer, seq) c`).Scan(&twice, &rows)
	if err != nil {
		t.Fatal(e.record(err))
	}
	if twice > 0 {
		t.Errorf("%d statements ran twice", twice)
	}
	t.Logf("%d rows written, %d writes failed during the restarts", rows, failed.Load())
	e.waitNoLeaksAfterClose()
}

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
		begin := time.Now() // before the first mint: the backoff's bounds count from after it
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
		// after a backoff (0.5 to 1 s, then 1 to 2 s), not one per connect:
		// the fourth mint comes 1.5 s after begin at the earliest, however
		// slow the first Ping was.
		pings := 0
		for ; time.Since(begin) < 1500*time.Millisecond; pings++ {
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

// A context that ends after the dial, while lib/pq waits for the server's
// answer, must end Connect with the context's error, not a panic on the nil
// connection lib/pq returns with its error.
//
// The deadline must fall after the dial: a deadline too short for this
// machine to dial is tried again, doubled, until the server saw the
// connection before it.
func TestConnectEndsDuringAStalledLogin(t *testing.T) {
	silent := startTCPHold(t, "")
	for _, mode := range []string{"disable", "require"} {
		t.Run(mode, func(t *testing.T) {
			conn := mustConnector(t, &lakebase.Config{Host: silent.Host(), Port: silent.Port(), User: "u", Password: "p", SSLMode: mode})
			defer conn.Close()
			for budget := 100 * time.Millisecond; ; budget *= 2 {
				if budget > scaled(10*time.Second) {
					t.Fatal("no Connect reached the server before its deadline")
				}
				dials := silent.Arrived()
				ctx, cancel := context.WithTimeout(context.Background(), budget)
				c, err := conn.Connect(ctx)
				cancel()
				if err != context.DeadlineExceeded || c != nil {
					t.Fatalf("Connect = %v, %v; want nil, context.DeadlineExceeded itself", c, err)
				}
				if silent.Arrived() > dials {
					return // the deadline fell in the login
				}
			}
		})
	}
}

// A server that accepts and never answers cannot hang a Connect whose
// context has no deadline: connect_timeout, else the default budget, bounds
// the dial, the TLS handshake and the login.
func TestConnectBoundedWithoutDeadline(t *testing.T) {
	port := startTCPHold(t, "").Port()
	for _, mode := range []string{"disable", "require"} {
		t.Run(mode, func(t *testing.T) {
			cfg, err := lakebase.ParseDSN(fmt.Sprintf("host=127.0.0.1 port=%d user=u password=p sslmode=%s connect_timeout=1", port, mode))
			if err != nil {
				t.Fatal(err)
			}
			db := sql.OpenDB(mustConnector(t, cfg))
			defer db.Close()
			start := time.Now()
			err = db.Ping()
			var ce *lakebase.ConnectError
			if !errors.As(err, &ce) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "connect_timeout") {
				t.Fatalf("Ping = %v; want a ConnectError naming connect_timeout", err)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("Ping took %s with connect_timeout=1", took)
			}
			t.Logf("%v", err)
		})
	}
}
