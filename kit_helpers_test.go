package lakebase_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
)

// kitShared is the kit of sharedKit.
var kitShared lakebasetest.Shared

// sharedKit returns the kit shared by this package's tests, started on first
// use and closed by TestMain. Tests that use it change nothing that other
// tests see: they add identities, instances and endpoints of their own, and
// never set faults, latencies or lifetimes, nor revoke credentials. Tests
// that need those start a kit of their own with lakebasetest.New.
func sharedKit(t *testing.T) *lakebasetest.Kit {
	t.Helper()
	return kitShared.Kit(t)
}

// uniqueName returns a name no other test uses, for instances, endpoints and
// identities added to the shared kit.
func uniqueName(prefix string) string {
	return prefix + "-" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
}

// tlsKeys are the DSN keys that verify a kit's gateways.
func tlsKeys(kit *lakebasetest.Kit) string {
	return "sslmode=verify-full sslrootcert=" + quote(kit.Postgres.CAFile())
}

// quote quotes a key/value DSN value.
func quote(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// m2mKeys are the DSN keys of an oauth-m2m login to kit's workspace as sp.
func m2mKeys(kit *lakebasetest.Kit, sp lakebasetest.ServicePrincipal) string {
	return fmt.Sprintf("workspace=%s auth=oauth-m2m client_id=%s client_secret=%s %s",
		quote(kit.Workspace.URL()), quote(sp.ApplicationID), quote(sp.Secret), tlsKeys(kit))
}

// newServicePrincipal registers a service principal of the test's own with
// kit, so that its mints can be counted apart from other tests'.
func newServicePrincipal(t *testing.T, kit *lakebasetest.Kit) lakebasetest.ServicePrincipal {
	t.Helper()
	sp := lakebasetest.ServicePrincipal{ApplicationID: uuid.NewString(), Secret: "secret-" + uuid.NewString()}
	if err := kit.AddServicePrincipal(context.Background(), sp); err != nil {
		t.Fatal(err)
	}
	return sp
}

// addInstance registers an instance of the test's own with kit and returns
// its name.
func addInstance(t *testing.T, kit *lakebasetest.Kit, opts lakebasetest.InstanceOptions) string {
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
func addEndpoint(t *testing.T, kit *lakebasetest.Kit, opts lakebasetest.EndpointOptions) string {
	t.Helper()
	if opts.Path == "" {
		opts.Path = "projects/" + uniqueName("proj") + "/branches/main/endpoints/primary"
	}
	if _, err := kit.AddEndpoint(opts); err != nil {
		t.Fatal(err)
	}
	return opts.Path
}

// openConnector parses dsn, lets edit change the Config (nil: no change),
// and returns the connector and a sql.DB over it, both closed when the test
// ends.
func openConnector(t *testing.T, dsn string, edit func(*lakebase.Config)) (*lakebase.Connector, *sql.DB) {
	t.Helper()
	cfg, err := lakebase.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("ParseDSN: %v", err)
	}
	if edit != nil {
		edit(cfg)
	}
	conn, err := lakebase.NewConnector(cfg)
	if err != nil {
		t.Fatalf("NewConnector: %v", err)
	}
	db := sql.OpenDB(conn)
	t.Cleanup(func() { db.Close() })
	return conn, db
}

// currentUser asks the server who the session is.
func currentUser(ctx context.Context, db *sql.DB) (string, error) {
	var user string
	err := db.QueryRowContext(ctx, "SELECT current_user").Scan(&user)
	return user, err
}

// mustCurrentUser is currentUser or a failed test.
func mustCurrentUser(t *testing.T, db *sql.DB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	user, err := currentUser(ctx, db)
	if err != nil {
		t.Fatalf("SELECT current_user: %v", err)
	}
	return user
}

// logBuffer collects the lines of a test's slog.Logger.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// debugLogger returns a logger that records everything, debug lines
// included, and its buffer.
func debugLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// secrets collects the secrets a test has seen, to check that none of them
// reaches an error or a log line.
type secrets struct {
	mu     sync.Mutex
	values []string
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

// kitSecrets returns the secrets of kit's default identities and values.
func kitSecrets(kit *lakebasetest.Kit, values ...string) *secrets {
	s := &secrets{}
	s.addKit(kit)
	s.add(values...)
	return s
}

// addKit records the default identities' secrets of kit.
func (s *secrets) addKit(kit *lakebasetest.Kit) {
	s.add(kit.ServicePrincipal.Secret, kit.User.Token, kit.User.RefreshToken, kit.NativePassword)
}

// addCredential records the credential conn would hand out now, if it can
// get one.
func (s *secrets) addCredential(t *testing.T, conn *lakebase.Connector) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if tok, err := conn.Credential(ctx); err == nil {
		s.add(tok.Value)
	}
}

// check fails the test if a secret appears in the log or in any of errs,
// printed every way an error is printed.
func (s *secrets) check(t *testing.T, log *logBuffer, errs ...error) {
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
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, text := range texts {
		for _, secret := range s.values {
			if strings.Contains(text, secret) {
				t.Errorf("a secret (%d characters, starting %.4q) appears in an error or log line", len(secret), secret)
			}
		}
	}
}

// workspaceGet asks kit's workspace for path with the default user's
// personal access token and decodes the JSON answer into v: the tests' own
// view of what the workspace says, independent of the driver.
func workspaceGet(t *testing.T, kit *lakebasetest.Kit, path string, v any) {
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
func instanceHosts(t *testing.T, kit *lakebasetest.Kit, name string) (readWrite, readOnly string) {
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
func endpointHostsOf(t *testing.T, kit *lakebasetest.Kit, path string) endpointHosts {
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
func gatewayAt(t *testing.T, kit *lakebasetest.Kit, host string) *lakebasetest.Gateway {
	t.Helper()
	g := kit.Gateway(host)
	if g == nil {
		t.Fatalf("no gateway behind %q", host)
	}
	return g
}

// failingBrowser is a Config.Browser that fails the test if a login page is
// opened.
func failingBrowser(t *testing.T) func(string) error {
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
func wantConnectError(t *testing.T, err error, step string, parts ...string) *lakebase.ConnectError {
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

// contextFor returns a context that ends after d or with the test.
func contextFor(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
