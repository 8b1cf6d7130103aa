//go:build live

package livetest

import (
	"context"
	"database/sql"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
)

// live is the workspace and targets that LAKEBASE_LIVE_* name.
type live struct {
	workspace    string
	instance     string // LAKEBASE_LIVE_INSTANCE
	endpoint     string // LAKEBASE_LIVE_ENDPOINT
	second       string // LAKEBASE_LIVE_SECOND_TARGET: "instance=..." or "endpoint=..."
	idle         string // LAKEBASE_LIVE_IDLE_ENDPOINT: an endpoint that scales to zero
	readOnly     bool   // LAKEBASE_LIVE_READ_ONLY=1: the targets have read-only hosts
	clientID     string
	clientSecret string
	token        string
	u2m          bool // LAKEBASE_LIVE_U2M=1: the Databricks CLI is logged in
}

// liveEnv reads the LAKEBASE_LIVE_* variables, or skips t: without a
// workspace, and always under CI=true, which never reaches outside hosts.
func liveEnv(t *testing.T) live {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Skip("live tests never run under CI=true")
	}
	l := live{
		workspace:    os.Getenv("LAKEBASE_LIVE_WORKSPACE"),
		instance:     os.Getenv("LAKEBASE_LIVE_INSTANCE"),
		endpoint:     os.Getenv("LAKEBASE_LIVE_ENDPOINT"),
		second:       os.Getenv("LAKEBASE_LIVE_SECOND_TARGET"),
		idle:         os.Getenv("LAKEBASE_LIVE_IDLE_ENDPOINT"),
		readOnly:     os.Getenv("LAKEBASE_LIVE_READ_ONLY") == "1",
		clientID:     os.Getenv("LAKEBASE_LIVE_CLIENT_ID"),
		clientSecret: os.Getenv("LAKEBASE_LIVE_CLIENT_SECRET"),
		token:        os.Getenv("LAKEBASE_LIVE_TOKEN"),
		u2m:          os.Getenv("LAKEBASE_LIVE_U2M") == "1",
	}
	if l.workspace == "" || (l.instance == "" && l.endpoint == "") {
		t.Skip("set LAKEBASE_LIVE_WORKSPACE and LAKEBASE_LIVE_INSTANCE or LAKEBASE_LIVE_ENDPOINT to run the live suite (docs/LIVE.md)")
	}
	return l
}

// targets are the DSN parts of the named targets.
func (l live) targets() []string {
	var ts []string
	if l.instance != "" {
		ts = append(ts, "instance="+quote(l.instance))
	}
	if l.endpoint != "" {
		ts = append(ts, "endpoint="+quote(l.endpoint))
	}
	return ts
}

// auths are the DSN parts of the auth modes whose settings are given, by
// name.
func (l live) auths() map[string]string {
	a := map[string]string{}
	if l.clientID != "" && l.clientSecret != "" {
		a["oauth-m2m"] = "auth=oauth-m2m client_id=" + quote(l.clientID) + " client_secret=" + quote(l.clientSecret)
	}
	if l.token != "" {
		a["pat"] = "auth=pat token=" + quote(l.token)
	}
	if l.u2m {
		a["oauth-u2m"] = "auth=oauth-u2m"
	}
	return a
}

// anyAuth is the first auth mode given, or skips t.
func (l live) anyAuth(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"oauth-m2m", "pat", "oauth-u2m"} {
		if a, ok := l.auths()[name]; ok {
			return a
		}
	}
	t.Skip("set LAKEBASE_LIVE_CLIENT_ID and LAKEBASE_LIVE_CLIENT_SECRET, LAKEBASE_LIVE_TOKEN or LAKEBASE_LIVE_U2M=1")
	return ""
}

// open opens a connector on the DSN parts, closed when t ends.
func (l live) open(t *testing.T, edit func(*lakebase.Config), parts ...string) (*lakebase.Connector, *sql.DB) {
	t.Helper()
	cfg, err := lakebase.ParseDSN(strings.Join(append([]string{"workspace=" + quote(l.workspace)}, parts...), " "))
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(cfg)
	}
	conn, err := lakebase.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	t.Cleanup(func() { db.Close() })
	return conn, db
}

// quote quotes a DSN value.
func quote(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// within is a context that ends after d or with t.
func within(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
