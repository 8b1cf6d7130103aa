package lakebase_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
)

// The fault tests and the soak share the fault kit. Each takes it for
// itself in turn (they change its workspace's faults and credential
// lifetime) and registers an instance of its own, so that gateways and mint
// counts are the test's alone.
var faultKitTurn struct {
	mu sync.Mutex // held by the test using the kit
	n  int        // instances registered so far; guarded by mu
}

// faultEnv is one fault test's view of the fault kit: its own instance, its
// own proxy to the workspace, a logger at the most verbose level, and the
// redaction sweep that runs when the test ends.
type faultEnv struct {
	t        *testing.T
	kit      *lakebasetest.Kit
	ws       *wsProxy
	instance string
	gateway  *lakebasetest.Gateway // the instance's read-write gateway
	logs     *logCapture
	secrets  *secrets        // besides the proxy's tokens, which sweep adds
	baseline map[string]bool // goroutines that ran before the test

	mu   sync.Mutex
	dbs  []*sql.DB
	errs []string // the text of every error the test saw
}

// newFaultEnv takes the fault kit for t, which must not be parallel.
func newFaultEnv(t *testing.T) *faultEnv {
	t.Helper()
	srv := testServer(t)
	k := kits.fault.get(t, func(ctx context.Context) (*lakebasetest.Kit, error) {
		return startKit(ctx, srv, lakebasetest.Options{})
	})
	faultKitTurn.mu.Lock()
	faultKitTurn.n++
	e := &faultEnv{t: t, kit: k, instance: fmt.Sprintf("fault-%d", faultKitTurn.n), logs: newLogCapture(), secrets: kitSecrets(k), baseline: goroutineIDs()}
	t.Cleanup(func() {
		k.Workspace.ClearFaults()
		k.Workspace.SetCredentialLifetime(0)
		k.Workspace.SetMintLatency(0)
		e.sweep()
		faultKitTurn.mu.Unlock()
	})
	gw, err := k.AddInstance(lakebasetest.InstanceOptions{Name: e.instance})
	if err != nil {
		t.Fatal(err)
	}
	e.gateway = gw
	e.ws = startProxy(t, k.Workspace.URL())
	return e
}

// dsn is an oauth-m2m DSN for the test's instance through its proxy, with
// the kit's CA verified, and extra key=value pairs.
func (e *faultEnv) dsn(extra ...string) string {
	return e.dsnFor(e.kit.ServicePrincipal, extra...)
}

// dsnFor is dsn for another service principal.
func (e *faultEnv) dsnFor(sp lakebasetest.ServicePrincipal, extra ...string) string {
	return e.dsnWith("instance="+e.instance, m2mAuth(sp), extra...)
}

// dsnWith is a DSN for a target ("instance=..." or "endpoint=...") through
// the test's proxy, with auth the DSN part that logs in.
func (e *faultEnv) dsnWith(target, auth string, extra ...string) string {
	parts := []string{target, auth, workspaceKeys(e.kit, e.ws.URL())}
	return strings.Join(append(parts, extra...), " ")
}

// open opens a sql.DB for dsn with the test's logger; adjust may change the
// Config first. The test's cleanup closes it.
func (e *faultEnv) open(dsn string, adjust ...func(*lakebase.Config)) (*sql.DB, *lakebase.Connector) {
	e.t.Helper()
	c, db := openConnector(e.t, dsn, append([]func(*lakebase.Config){withLogger(e.logs)}, adjust...)...)
	e.mu.Lock()
	e.dbs = append(e.dbs, db)
	e.mu.Unlock()
	return db, c
}

// record keeps the text of err for the redaction sweep and returns err.
func (e *faultEnv) record(err error) error {
	if err != nil {
		e.mu.Lock()
		e.errs = append(e.errs, err.Error(), fmt.Sprintf("%+v", err))
		e.mu.Unlock()
	}
	return err
}

// ping pings db within d, recording any error.
func (e *faultEnv) ping(db *sql.DB, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return e.record(db.PingContext(ctx))
}

// pingUntilUp pings db, pausing between Pings, until one succeeds or 15
// seconds pass. It returns the failures on the way and when they began.
func (e *faultEnv) pingUntilUp(db *sql.DB, pause time.Duration) (errs []error, start time.Time) {
	start = time.Now()
	for time.Since(start) < 15*time.Second {
		err := e.ping(db, 3*time.Second)
		if err == nil {
			break
		}
		errs = append(errs, err)
		time.Sleep(pause)
	}
	return errs, start
}

// keepSecret adds a secret that the sweep must not find, such as a
// credential taken from Connector.Credential.
func (e *faultEnv) keepSecret(s string) { e.secrets.add(s) }

// sweep fails the test if any secret appears in a log line or an error
// text: the service principal's secret, the person's token and refresh
// token, the native password, every token the workspace handed out, and
// those of keepSecret.
func (e *faultEnv) sweep() {
	e.secrets.add(e.ws.Tokens()...)
	e.mu.Lock()
	errs := slices.Clone(e.errs)
	e.mu.Unlock()
	e.secrets.checkText(e.t, e.logs.String()+"\n"+strings.Join(errs, "\n"))
	for _, msg := range errs {
		if n := strings.Count(msg, "lakebase:"); n > 1 {
			e.t.Errorf("error %q carries %d lakebase: prefixes, want one", msg, n)
		}
	}
}

// waitNoLeaksAfterClose closes every sql.DB the test opened and checks
// that nothing of them is left running.
func (e *faultEnv) waitNoLeaksAfterClose() {
	e.t.Helper()
	e.mu.Lock()
	dbs := e.dbs
	e.mu.Unlock()
	for _, db := range dbs {
		// Closing a session the server already dropped reports the failed
		// goodbye (lib/pq's Terminate message); the session is closed anyway.
		if err := db.Close(); err != nil {
			e.t.Logf("db.Close: %v", e.record(err))
		}
	}
	e.waitNoLeaks()
}

// waitNoLeaks fails the test unless, within a few seconds, no goroutine
// started during the test runs code of the driver, database/sql, lib/pq or
// the Databricks SDK.
func (e *faultEnv) waitNoLeaks() {
	e.t.Helper()
	var left []string
	for deadline := time.Now().Add(scaled(5 * time.Second)); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if left = driverGoroutines(e.baseline); len(left) == 0 {
			return
		}
	}
	e.t.Errorf("%d goroutines left behind:\n%s", len(left), strings.Join(left, "\n\n"))
}

// since returns how long ago start was, for messages.
func since(start time.Time) time.Duration { return time.Since(start).Round(time.Millisecond) }
