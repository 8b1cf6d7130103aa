package lakebase_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/internal/leakcheck"
	"github.com/lakebase-go/lakebase/internal/testenv"
	"github.com/lakebase-go/lakebase/lakebasetest"
	"github.com/lakebase-go/lakebase/lakebasetest/pgserver"
	_ "github.com/lib/pq" // the superuser's view of the server
)

// The harness of this package's tests: one PostgreSQL server for the whole
// test binary, and every kit of the package on it.
//
// The server is a throwaway cluster started by the first test that needs
// it. Kits use it as an existing server (lakebasetest.Options.Postgres.URL),
// each with a native role of its own. The shared kit serves the tests that
// change nothing others see; the fault kit is taken in turn by the tests
// that set faults, latencies or lifetimes (newFaultEnv); a test that needs a
// whole workspace to itself starts one with newKit. The restart tests
// (fault_postgres_test.go) restart this server: they are not parallel, so
// they run while no other test does (parallel tests start only once every
// sequential one has ended).

func TestMain(m *testing.M) {
	leakcheck.Main(m, kits.shared.close, kits.fault.close, server.close)
}

// lazy is a value of the test binary started by the first test that asks
// for it and closed by TestMain.
type lazy[T comparable] struct {
	once  sync.Once
	value T
	err   error
	stop  func(T) error
}

// get returns the value, starting it with start on first use. When it
// cannot start, it ends t as testenv.Require does: without PostgreSQL
// it skips, except under CI.
func (l *lazy[T]) get(t testing.TB, start func(context.Context) (T, error)) T {
	t.Helper()
	l.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		l.value, l.err = start(ctx)
	})
	testenv.Require(t, l.err)
	return l.value
}

// close stops the value if it was started.
func (l *lazy[T]) close() error {
	var zero T
	if l.value == zero || l.stop == nil {
		return nil
	}
	return l.stop(l.value)
}

// server is the test binary's one PostgreSQL server.
var server = lazy[*pgserver.Server]{stop: (*pgserver.Server).Stop}

// testServer returns the shared server.
func testServer(t testing.TB) *pgserver.Server {
	t.Helper()
	return server.get(t, func(ctx context.Context) (*pgserver.Server, error) {
		return pgserver.Start(ctx, pgserver.Options{})
	})
}

// kits are the kits shared by several tests.
var kits = struct {
	shared, fault lazy[*lakebasetest.Kit]
}{
	shared: lazy[*lakebasetest.Kit]{stop: (*lakebasetest.Kit).Close},
	fault:  lazy[*lakebasetest.Kit]{stop: (*lakebasetest.Kit).Close},
}

// sharedKit returns the kit shared by this package's tests. Tests that use
// it change nothing that other tests see: they add identities, instances and
// endpoints of their own, and never set faults, latencies or lifetimes, nor
// revoke credentials. Tests that need those use newFaultEnv or newKit.
func sharedKit(t testing.TB) *lakebasetest.Kit {
	t.Helper()
	srv := testServer(t)
	return kits.shared.get(t, func(ctx context.Context) (*lakebasetest.Kit, error) {
		return startKit(ctx, srv, lakebasetest.Options{})
	})
}

// newKit starts a kit of the test's own on the shared server, closed when
// the test ends.
func newKit(t testing.TB, opts lakebasetest.Options) *lakebasetest.Kit {
	t.Helper()
	srv := testServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	k, err := startKit(ctx, srv, opts)
	testenv.Require(t, err)
	t.Cleanup(func() {
		if err := k.Close(); err != nil {
			t.Error(err)
		}
	})
	return k
}

// startKit starts a kit on srv. Each kit on a shared server has a native
// role of its own (see lakebasetest.Kit.NativeRole), so one kit's start
// cannot break another's native logins.
func startKit(ctx context.Context, srv *pgserver.Server, opts lakebasetest.Options) (*lakebasetest.Kit, error) {
	opts.Postgres.URL = srv.SuperuserDSN()
	return lakebasetest.Start(ctx, opts)
}

// timeScaleEnv names the environment variable that stretches the tests
// that depend on real credential lifetimes (rotation, soak, refresh and
// expiry tests): a number, 1 by default, that multiplies their lifetimes,
// windows, latencies and waits, for a machine too slow or too loaded for
// the defaults. docs/RELIABILITY.md describes it.
const timeScaleEnv = "LAKEBASE_TEST_TIME_SCALE"

// timeScale is the value of timeScaleEnv.
var timeScale = func() float64 {
	v := os.Getenv(timeScaleEnv)
	if v == "" {
		return 1
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 {
		panic(fmt.Sprintf("%s=%q: want a positive number", timeScaleEnv, v))
	}
	return f
}()

// scaled is d stretched by the time scale.
func scaled(d time.Duration) time.Duration { return time.Duration(float64(d) * timeScale) }

// waitFor polls cond until it holds, or fails the test once d (scaled)
// has passed: the way these tests wait for something to happen, instead of
// sleeping for a time that a loaded machine may exceed.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(scaled(d)); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s in vain: %s", scaled(d), what)
		}
	}
}

// waitRunning waits until the shared server runs a statement holding marker
// (and, if sleeping, the statement sleeps there in pg_sleep), as
// pg_stat_activity shows it to the superuser, and returns its backend.
func waitRunning(t testing.TB, marker string, sleeping bool) int {
	t.Helper()
	admin, err := sql.Open("postgres", testServer(t).SuperuserDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var pid int
	waitFor(t, 20*time.Second, "the statement "+marker+" runs on the server", func() bool {
		err := admin.QueryRow(`SELECT pid FROM pg_stat_activity
			WHERE state = 'active' AND query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid()
			AND (NOT $2 OR wait_event = 'PgSleep')`, marker, sleeping).Scan(&pid)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			t.Fatal(err)
		}
		return err == nil
	})
	return pid
}

// ownKitM2M starts a kit of the test's own with opts, lets prepare (if not
// nil) change it, and opens an oauth-m2m connector to its default instance
// that logs into a capture, with edits applied to its Config.
func ownKitM2M(t testing.TB, opts lakebasetest.Options, prepare func(*lakebasetest.Kit), edits ...func(*lakebase.Config)) (*lakebasetest.Kit, *lakebase.Connector, *sql.DB, *logCapture) {
	t.Helper()
	kit := newKit(t, opts)
	if prepare != nil {
		prepare(kit)
	}
	logs := newLogCapture()
	conn, db := openConnector(t, kit.DSNs().M2M, append([]func(*lakebase.Config){withLogger(logs)}, edits...)...)
	return kit, conn, db, logs
}

// uniqueName returns a name no other test uses, for instances, endpoints,
// identities and roles.
func uniqueName(prefix string) string {
	return prefix + "-" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
}

// quote quotes a key/value DSN value.
func quote(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// tlsKeys are the DSN keys that verify a kit's gateways.
func tlsKeys(kit *lakebasetest.Kit) string {
	return "sslmode=verify-full sslrootcert=" + quote(kit.Postgres.CAFile())
}

// m2mAuth is the DSN part that logs in as sp with oauth-m2m.
func m2mAuth(sp lakebasetest.ServicePrincipal) string {
	return "auth=oauth-m2m client_id=" + quote(sp.ApplicationID) + " client_secret=" + quote(sp.Secret)
}

// workspaceKeys are the DSN keys of a login through the workspace at
// workspaceURL (kit's own, or a proxy to it) to kit's gateways.
func workspaceKeys(kit *lakebasetest.Kit, workspaceURL string) string {
	return "workspace=" + quote(workspaceURL) + " " + tlsKeys(kit)
}

// m2mKeys are the DSN keys of an oauth-m2m login to kit's workspace as sp.
func m2mKeys(kit *lakebasetest.Kit, sp lakebasetest.ServicePrincipal) string {
	return m2mAuth(sp) + " " + workspaceKeys(kit, kit.Workspace.URL())
}

// openConnector parses dsn, lets each of edits change the Config, and
// returns the connector and a sql.DB over it, both closed when the test
// ends.
func openConnector(t testing.TB, dsn string, edits ...func(*lakebase.Config)) (*lakebase.Connector, *sql.DB) {
	t.Helper()
	cfg, err := lakebase.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("ParseDSN: %v", err)
	}
	for _, edit := range edits {
		if edit != nil {
			edit(cfg)
		}
	}
	conn, err := lakebase.NewConnector(cfg)
	if err != nil {
		t.Fatalf("NewConnector: %v", err)
	}
	db := sql.OpenDB(conn)
	t.Cleanup(func() { db.Close() })
	return conn, db
}

// withLogger is an edit of openConnector that sets the Config's logger.
func withLogger(logs *logCapture) func(*lakebase.Config) {
	return func(c *lakebase.Config) { c.Logger = logs.logger }
}

// currentUser asks the server who the session is.
func currentUser(ctx context.Context, db *sql.DB) (string, error) {
	var user string
	err := db.QueryRowContext(ctx, "SELECT current_user").Scan(&user)
	return user, err
}

// mustCurrentUser is currentUser or a failed test.
func mustCurrentUser(t testing.TB, db *sql.DB) string {
	t.Helper()
	user, err := currentUser(contextFor(t, 30*time.Second), db)
	if err != nil {
		t.Fatalf("SELECT current_user: %v", err)
	}
	return user
}

// wantCurrentUser checks that db's sessions are want's.
func wantCurrentUser(t testing.TB, db *sql.DB, want string) {
	t.Helper()
	if got := mustCurrentUser(t, db); got != want {
		t.Errorf("current_user = %q, want %q", got, want)
	}
}

// contextFor returns a context that ends after d or with the test.
func contextFor(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// failingBrowser is a Config.Browser that fails the test if a login page is
// opened.
func failingBrowser(t testing.TB) func(string) error {
	var opened atomic.Bool
	t.Cleanup(func() {
		if opened.Load() {
			t.Error("a browser login was started, but none was expected")
		}
	})
	return func(string) error {
		opened.Store(true)
		return errors.New("test: no browser here")
	}
}

// wantConnectError checks that err is a *lakebase.ConnectError of step whose
// text holds every one of parts.
func wantConnectError(t testing.TB, err error, step string, parts ...string) *lakebase.ConnectError {
	t.Helper()
	var ce *lakebase.ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *lakebase.ConnectError", err, err)
	}
	if ce.Step != step {
		t.Errorf("ConnectError.Step = %q, want %q (error %q)", ce.Step, step, err)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "lakebase: "+step) {
		t.Errorf("error %q does not start with %q", msg, "lakebase: "+step)
	}
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("error %q does not mention %q", msg, p)
		}
	}
	return ce
}

// pingFails opens a connector for dsn that logs into a capture of its own,
// pings within 30 seconds, and returns the Ping's error, how long it took
// and the log; a Ping that succeeds fails the test.
func pingFails(t testing.TB, dsn string, edits ...func(*lakebase.Config)) (logs *logCapture, took time.Duration, err error) {
	t.Helper()
	logs = newLogCapture()
	_, db := openConnector(t, dsn, append([]func(*lakebase.Config){withLogger(logs)}, edits...)...)
	start := time.Now()
	err = db.PingContext(contextFor(t, 30*time.Second))
	took = time.Since(start)
	if err == nil {
		t.Fatal("Ping succeeded; want an error")
	}
	t.Logf("error after %s: %v", took, err)
	return logs, took, err
}

// newServicePrincipal registers a service principal of the test's own with
// kit, so that its mints can be counted apart from other tests'.
func newServicePrincipal(t testing.TB, kit *lakebasetest.Kit) lakebasetest.ServicePrincipal {
	t.Helper()
	sp := lakebasetest.ServicePrincipal{ApplicationID: uuid.NewString(), Secret: "secret-" + uuid.NewString()}
	if err := kit.AddServicePrincipal(context.Background(), sp); err != nil {
		t.Fatal(err)
	}
	return sp
}

// addInstance registers an instance of the test's own with kit and returns
// its name.
func addInstance(t testing.TB, kit *lakebasetest.Kit, opts lakebasetest.InstanceOptions) string {
	t.Helper()
	if opts.Name == "" {
		opts.Name = uniqueName("inst")
	}
	if _, err := kit.AddInstance(opts); err != nil {
		t.Fatal(err)
	}
	return opts.Name
}

// addEndpoint registers an endpoint of the test's own with kit and returns its
// path.
func addEndpoint(t testing.TB, kit *lakebasetest.Kit, opts lakebasetest.EndpointOptions) string {
	t.Helper()
	if opts.Path == "" {
		opts.Path = "projects/" + uniqueName("proj") + "/branches/main/endpoints/primary"
	}
	if _, err := kit.AddEndpoint(opts); err != nil {
		t.Fatal(err)
	}
	return opts.Path
}

// workspaceGet asks kit's workspace for path with the default user's
// personal access token and decodes the JSON answer into v: the tests' own
// view of what the workspace says, independent of the driver.
func workspaceGet(t testing.TB, kit *lakebasetest.Kit, path string, v any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, kit.Workspace.URL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+kit.User.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// instanceHosts returns the read-write and read-only hosts the workspace
// gives for instance name.
func instanceHosts(t testing.TB, kit *lakebasetest.Kit, name string) (readWrite, readOnly string) {
	t.Helper()
	var inst struct {
		ReadWriteDNS string `json:"read_write_dns"`
		ReadOnlyDNS  string `json:"read_only_dns"`
	}
	workspaceGet(t, kit, "/api/2.0/database/instances/"+url.PathEscape(name), &inst)
	return inst.ReadWriteDNS, inst.ReadOnlyDNS
}

// endpointHosts is the status.hosts of an Autoscaling endpoint.
type endpointHosts struct {
	Host                string `json:"host"`
	ReadOnlyHost        string `json:"read_only_host"`
	ReadWritePooledHost string `json:"read_write_pooled_host"`
	ReadOnlyPooledHost  string `json:"read_only_pooled_host"`
}

// endpointHostsOf returns the hosts the workspace gives for the endpoint at
// path.
func endpointHostsOf(t testing.TB, kit *lakebasetest.Kit, path string) endpointHosts {
	t.Helper()
	var ep struct {
		Status struct {
			Hosts endpointHosts `json:"hosts"`
		} `json:"status"`
	}
	workspaceGet(t, kit, "/api/2.0/postgres/"+path, &ep)
	return ep.Status.Hosts
}

// gatewayAt returns the gateway behind host, or fails the test.
func gatewayAt(t testing.TB, kit *lakebasetest.Kit, host string) *lakebasetest.Gateway {
	t.Helper()
	g := kit.Gateway(host)
	if g == nil {
		t.Fatalf("no gateway behind %q", host)
	}
	return g
}

// accepted reads a gateway's count of accepted logins.
func accepted(g *lakebasetest.Gateway) int64 { return g.Stats().Accepted }

// readyOnceWaiting calls ready once the driver's log says that it waits for
// a target that is not ready yet (the test's connect is waiting), and
// returns a function that tells when that was: the zero time before.
func readyOnceWaiting(t testing.TB, logs *logCapture, ready func() error) (readyAt func() time.Time) {
	t.Helper()
	from := len(logs.String()) // earlier waits do not count
	var mu sync.Mutex
	var at time.Time
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for deadline := time.Now().Add(scaled(30 * time.Second)); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			select {
			case <-stop:
				return
			default:
			}
			if strings.Contains(logs.String()[from:], "target not ready") {
				mu.Lock()
				defer mu.Unlock()
				if err := ready(); err != nil {
					t.Error(err)
				}
				at = time.Now()
				return
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return at
	}
}

// logCapture keeps every line of a slog logger at the most verbose level,
// debug lines included.
type logCapture struct {
	logger *slog.Logger
	mu     sync.Mutex
	buf    bytes.Buffer
	lines  int
}

// newLogCapture returns a logger that records everything.
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

// secrets collects the secrets a test has seen, to check that none of them
// reaches an error or a log line.
type secrets struct {
	mu     sync.Mutex
	values []string
}

// kitSecrets returns the secrets of kit's default identities and values.
func kitSecrets(kit *lakebasetest.Kit, values ...string) *secrets {
	s := &secrets{}
	s.add(kit.ServicePrincipal.Secret, kit.User.Token, kit.User.RefreshToken, kit.NativePassword)
	s.add(values...)
	return s
}

// add records values; empty ones are ignored.
func (s *secrets) add(values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range values {
		if v != "" {
			s.values = append(s.values, v)
		}
	}
}

// addCredential records the credential conn would hand out now, if it can
// get one, and returns s.
func (s *secrets) addCredential(t testing.TB, conn *lakebase.Connector) *secrets {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if tok, err := conn.Credential(ctx); err == nil {
		s.add(tok.Value)
	}
	return s
}

// check fails the test if a secret appears in the log (nil: none) or in
// any of errs, printed every way an error is printed.
func (s *secrets) check(t testing.TB, log *logCapture, errs ...error) {
	t.Helper()
	var texts []string
	if log != nil {
		texts = append(texts, log.String())
	}
	for _, err := range errs {
		if err != nil {
			texts = append(texts, err.Error(), fmt.Sprintf("%v %+v %#v %q", err, err, err, err))
		}
	}
	s.checkText(t, strings.Join(texts, "\n"))
}

// checkText fails the test if a secret appears in text. The report shows
// the line that holds it, with the secret blanked out.
func (s *secrets) checkText(t testing.TB, text string) {
	t.Helper()
	s.mu.Lock()
	values := s.values
	s.mu.Unlock()
	for _, leak := range findLeaks(text, values) {
		t.Errorf("a secret appears in an error or log line:\n%s", leak)
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

// The sweep reports each secret it finds, whole or by a JWT's last part,
// on its line with the secret blanked out, and passes over secrets too
// short to tell apart.
func TestFaultRedactionSweepFindsLeaks(t *testing.T) {
	jwt := "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXBhcnQtb2YtaXQ"
	text := "level=INFO msg=ok\nlevel=WARN msg=\"login with hunter2-secret failed\"\nerr: token ends c2lnbmF0dXJlLXBhcnQtb2YtaXQ\n"
	leaks := findLeaks(text, []string{"hunter2-secret", jwt, "absent-secret", "short"})
	if len(leaks) != 2 {
		t.Fatalf("findLeaks found %d leaks, want 2: %q", len(leaks), leaks)
	}
	for _, leak := range leaks {
		if strings.Contains(leak, "hunter2") || strings.Contains(leak, "c2lnbmF0") || !strings.Contains(leak, "[THE SECRET]") {
			t.Errorf("leak report %q should blank the secret out", leak)
		}
	}
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

// wsProxy stands between the driver and the kit's workspace, on a port of
// its own that stays the same while it goes down and up: down, the port is
// closed (connections refused), as for an unreachable workspace. It also
// collects every token the workspace hands out (database credentials, OAuth
// access and refresh tokens), for the redaction sweep.
type wsProxy struct {
	target *url.URL
	addr   string // 127.0.0.1:port
	rp     *httputil.ReverseProxy
	tr     *http.Transport

	mu     sync.Mutex
	srv    *http.Server // nil while down
	tokens map[string]bool
}

// startProxy starts a proxy to the workspace at target; the test's cleanup
// stops it.
func startProxy(t *testing.T, target string) *wsProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &wsProxy{target: u, tr: &http.Transport{}, tokens: make(map[string]bool)}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        func(r *httputil.ProxyRequest) { r.SetURL(u) },
		Transport:      p.tr,
		ModifyResponse: p.inspect,
		ErrorLog:       log.New(io.Discard, "", 0),
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = l.Addr().String()
	p.serve(l)
	t.Cleanup(p.close)
	return p
}

// URL is the workspace URL the driver is given.
func (p *wsProxy) URL() string { return "http://" + p.addr }

// Down closes the port and every connection through it.
func (p *wsProxy) Down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.srv != nil {
		_ = p.srv.Close()
		p.srv = nil
	}
	p.tr.CloseIdleConnections()
}

// Up listens on the same port again.
func (p *wsProxy) Up(t *testing.T) {
	t.Helper()
	l, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.serve(l)
}

func (p *wsProxy) serve(l net.Listener) {
	srv := &http.Server{Handler: p.rp, ErrorLog: log.New(io.Discard, "", 0)}
	p.mu.Lock()
	p.srv = srv
	p.mu.Unlock()
	go func() { _ = srv.Serve(l) }()
}

func (p *wsProxy) close() { p.Down() }

// Tokens returns every token the workspace handed out through the proxy.
func (p *wsProxy) Tokens() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.tokens))
	for tok := range p.tokens {
		out = append(out, tok)
	}
	return out
}

// inspect records the tokens of a workspace answer and rewrites the
// workspace's own address in it (OIDC discovery names absolute URLs) to the
// proxy's, so that every call goes through the proxy.
func (p *wsProxy) inspect(resp *http.Response) error {
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return err
	}
	var fields map[string]any
	if json.Unmarshal(body, &fields) == nil {
		p.mu.Lock()
		for _, key := range []string{"token", "access_token", "refresh_token", "id_token"} {
			if v, ok := fields[key].(string); ok && v != "" {
				p.tokens[v] = true
			}
		}
		p.mu.Unlock()
	}
	body = bytes.ReplaceAll(body, []byte(p.target.String()), []byte(p.URL()))
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}

// tcpHold is a TCP proxy in front of a server that can hold the connections
// it accepts: while holding, a new connection is accepted and counted, then
// left without an answer until released, as a login that hangs on the
// network. The count proves that a connect reached its login.
type tcpHold struct {
	target string
	l      net.Listener

	arrived atomic.Int64 // connections accepted so far

	mu      sync.Mutex
	holding bool
	release chan struct{} // closed when held connections may go on
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup
}

// startTCPHold starts a proxy to target ("host:port") that forwards at once
// until Hold is called; the test's cleanup stops it and ends every
// connection through it. With target empty it holds from the start and
// never answers, as a server stuck in a login would.
func startTCPHold(t testing.TB, target string) *tcpHold {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpHold{target: target, l: l, holding: target == "", release: make(chan struct{}), conns: make(map[net.Conn]struct{})}
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

// Host is the proxy's host, which the kit's certificate names.
func (p *tcpHold) Host() string { return "127.0.0.1" }

// Port is the proxy's port.
func (p *tcpHold) Port() int { return p.l.Addr().(*net.TCPAddr).Port }

// DSNKeys are the DSN keys that point a connection at the proxy.
func (p *tcpHold) DSNKeys() string { return "host=" + p.Host() + " port=" + strconv.Itoa(p.Port()) }

// Arrived is how many connections the proxy has accepted.
func (p *tcpHold) Arrived() int64 { return p.arrived.Load() }

// Hold makes new connections wait, unanswered, until Release.
func (p *tcpHold) Hold() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.holding = true
}

// Release lets held connections through, and new ones at once.
func (p *tcpHold) Release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.holding {
		p.holding = false
		close(p.release)
		p.release = make(chan struct{})
	}
}

func (p *tcpHold) accept() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.conns[c] = struct{}{}
		release := p.release
		if !p.holding {
			release = nil
		}
		p.mu.Unlock()
		p.arrived.Add(1)
		p.wg.Go(func() { p.serve(c, release) })
	}
}

// serve waits for release (nil: none), then relays c to the target.
func (p *tcpHold) serve(c net.Conn, release chan struct{}) {
	defer p.forget(c)
	if release != nil {
		<-release
	}
	if p.target == "" {
		return
	}
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer s.Close()
	done := make(chan struct{})
	go func() { _, _ = io.Copy(s, c); _ = s.Close(); close(done) }()
	_, _ = io.Copy(c, s)
	_ = c.Close()
	<-done
}

func (p *tcpHold) forget(c net.Conn) {
	_ = c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// close stops accepting, ends every connection and waits for them.
func (p *tcpHold) close() {
	_ = p.l.Close()
	p.Release()
	p.mu.Lock()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// The goroutines of the test binary, to find those a test left running.

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

// goroutinesIn counts the goroutines whose stack holds fn, such as
// "lakebase.(*Connector).Connect(".
func goroutinesIn(fn string) int {
	n := 0
	for _, s := range goroutineStacks() {
		if strings.Contains(s, fn) {
			n++
		}
	}
	return n
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
