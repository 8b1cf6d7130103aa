package lakebase_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
)

// The fault tests and the soak share one kit, started by the first of them
// and closed by TestMain. Each takes it for itself in turn (they change its
// workspace's faults and credential lifetime) and registers an instance of
// its own, so that gateways and mint counts are the test's alone.
var faultKit struct {
	shared lakebasetest.Shared
	mu     sync.Mutex // held by the test using the kit
	n      int        // instances registered so far; guarded by mu
}

// faultEnv is one fault test's view of the shared kit: its own instance,
// its own proxy to the workspace, a logger at the most verbose level, and
// the redaction sweep that runs when the test ends.
type faultEnv struct {
	t        *testing.T
	kit      *lakebasetest.Kit
	ws       *wsProxy
	instance string
	gateway  *lakebasetest.Gateway // the instance's read-write gateway
	logs     *logCapture
	baseline map[string]bool // goroutines that ran before the test

	mu      sync.Mutex
	dbs     []*sql.DB
	errs    []string // the text of every error the test saw
	secrets []string // secrets besides the kit's and the proxy's
}

// newFaultEnv takes the shared kit for t, which must not be parallel.
func newFaultEnv(t *testing.T) *faultEnv {
	t.Helper()
	k := faultKit.shared.Kit(t)
	faultKit.mu.Lock()
	faultKit.n++
	e := &faultEnv{t: t, kit: k, instance: fmt.Sprintf("fault-%d", faultKit.n), logs: newLogCapture(), baseline: goroutineIDs()}
	t.Cleanup(func() {
		k.Workspace.ClearFaults()
		k.Workspace.SetCredentialLifetime(0)
		k.Workspace.SetMintLatency(0)
		e.sweep()
		faultKit.mu.Unlock()
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

// m2mAuth is the DSN part that logs in as sp.
func m2mAuth(sp lakebasetest.ServicePrincipal) string {
	return "auth=oauth-m2m client_id=" + quoteDSN(sp.ApplicationID) + " client_secret=" + quoteDSN(sp.Secret)
}

// dsnWith is a DSN for a target ("instance=..." or "endpoint=...") through
// the test's proxy, with auth the DSN part that logs in.
func (e *faultEnv) dsnWith(target, auth string, extra ...string) string {
	parts := []string{
		target,
		"workspace=" + e.ws.URL(),
		auth,
		"sslmode=verify-full",
		"sslrootcert=" + quoteDSN(e.kit.Postgres.CAFile()),
	}
	return strings.Join(append(parts, extra...), " ")
}

// open opens a sql.DB for dsn with the test's logger; adjust may change the
// Config first. The test's cleanup closes it.
func (e *faultEnv) open(dsn string, adjust ...func(*lakebase.Config)) (*sql.DB, *lakebase.Connector) {
	e.t.Helper()
	cfg, err := lakebase.ParseDSN(dsn)
	if err != nil {
		e.t.Fatal(err)
	}
	cfg.Logger = e.logs.logger
	for _, f := range adjust {
		f(cfg)
	}
	c, err := lakebase.NewConnector(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	db := sql.OpenDB(c)
	e.t.Cleanup(func() { _ = db.Close() })
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
func (e *faultEnv) keepSecret(s string) {
	e.mu.Lock()
	e.secrets = append(e.secrets, s)
	e.mu.Unlock()
}

// sweep fails the test if any secret appears in a log line or an error
// text: the service principal's secret, the person's token and refresh
// token, the native password, and every token the workspace handed out.
// A JWT-shaped credential's random last part is looked for too, so that a
// partial leak is caught.
func (e *faultEnv) sweep() {
	k := e.kit
	secrets := []string{k.ServicePrincipal.Secret, k.User.Token, k.User.RefreshToken, k.NativePassword}
	secrets = append(secrets, e.ws.Tokens()...)
	e.mu.Lock()
	secrets = append(secrets, e.secrets...)
	text := e.logs.String() + "\n" + strings.Join(e.errs, "\n")
	errs := slices.Clone(e.errs)
	e.mu.Unlock()
	for _, leak := range findLeaks(text, secrets) {
		e.t.Errorf("redaction sweep: a secret appears in the logs or errors:\n%s", leak)
	}
	for _, msg := range errs {
		if n := strings.Count(msg, "lakebase:"); n > 1 {
			e.t.Errorf("error %q carries %d lakebase: prefixes, want one", msg, n)
		}
	}
}

// findLeaks returns, for each secret found in text, the line that holds it
// with the secret blanked out. A JWT-shaped secret's random last part is
// looked for too, so that a partial leak is caught; parts shorter than eight
// characters are not.
func findLeaks(text string, secrets []string) []string {
	var leaks []string
	for _, s := range secrets {
		parts := []string{s}
		if dots := strings.Split(s, "."); len(dots) == 3 {
			parts = append(parts, dots[2])
		}
		for _, p := range parts {
			if len(p) >= 8 && strings.Contains(text, p) {
				leaks = append(leaks, strings.ReplaceAll(lineWith(text, p), p, "[THE SECRET]"))
				break
			}
		}
	}
	return leaks
}

// lineWith returns the line of text that holds s.
func lineWith(text, s string) string {
	i := strings.Index(text, s)
	start := strings.LastIndexByte(text[:i], '\n') + 1
	end := strings.IndexByte(text[i:], '\n')
	if end < 0 {
		return text[start:]
	}
	return text[start : i+end]
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
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if left = driverGoroutines(e.baseline); len(left) == 0 {
			return
		}
	}
	e.t.Errorf("%d goroutines left behind:\n%s", len(left), strings.Join(left, "\n\n"))
}

// goroutineStacks returns the stack of every goroutine but the caller's.
func goroutineStacks() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			stacks := strings.Split(string(buf[:n]), "\n\n")
			return stacks[1:] // the first is the caller's
		}
		buf = make([]byte, 2*len(buf))
	}
}

// goroutineIDs returns the headers ("goroutine 12") of the goroutines now.
func goroutineIDs() map[string]bool {
	ids := make(map[string]bool)
	for _, s := range goroutineStacks() {
		ids[goroutineID(s)] = true
	}
	return ids
}

func goroutineID(stack string) string {
	id, _, _ := strings.Cut(stack, " [")
	return id
}

// driverCode marks the stack frames of the code whose goroutines must end.
var driverCode = []string{
	"github.com/lakebase-go/lakebase.",
	"github.com/lakebase-go/lakebase/internal/",
	"database/sql.",
	"github.com/lib/pq.",
	"github.com/databricks/databricks-sdk-go",
}

// driverGoroutines returns the stacks of the goroutines, not in baseline,
// that run driver code.
func driverGoroutines(baseline map[string]bool) []string {
	var out []string
	for _, s := range goroutineStacks() {
		if baseline[goroutineID(s)] {
			continue
		}
		for _, mark := range driverCode {
			if strings.Contains(s, mark) {
				out = append(out, s)
				break
			}
		}
	}
	return out
}

// logCapture keeps every line of a slog logger at the most verbose level.
type logCapture struct {
	logger *slog.Logger
	mu     sync.Mutex
	buf    bytes.Buffer
	lines  int
}

func newLogCapture() *logCapture {
	l := &logCapture{}
	l.logger = slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.Level(-8)}))
	return l
}

func (l *logCapture) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines += bytes.Count(p, []byte("\n"))
	return l.buf.Write(p)
}

func (l *logCapture) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Lines is how many lines were logged.
func (l *logCapture) Lines() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lines
}

// quoteDSN quotes a key/value DSN value.
func quoteDSN(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t\n\r'\\") {
		return v
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// since returns how long ago start was, for messages.
func since(start time.Time) time.Duration { return time.Since(start).Round(time.Millisecond) }
