//go:build live

package livetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
)

// Each auth mode given logs in to each target named, as the identity whose
// credential it mints.
func TestLivePing(t *testing.T) {
	l := liveEnv(t)
	for name, auth := range l.auths() {
		for _, target := range l.targets() {
			t.Run(name+" "+target, func(t *testing.T) {
				conn, db := l.open(t, nil, target, auth)
				ctx := within(t, 2*time.Minute)
				user, err := conn.User(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var current, version string
				if err := db.QueryRowContext(ctx, "SELECT current_user, version()").Scan(&current, &version); err != nil {
					t.Fatal(err)
				}
				if current != user {
					t.Errorf("current_user = %q, want the identity's %q", current, user)
				}
				t.Logf("%s as %s: %s", target, current, version)
			})
		}
	}
}

// A credential dropped as if revoked is replaced by a new one that logs in
// too; on an endpoint, ttl=300s asks for a credential of five minutes, and
// the workspace's expiry says it got one.
func TestLiveRotation(t *testing.T) {
	l := liveEnv(t)
	auth := l.anyAuth(t)
	for _, target := range l.targets() {
		t.Run(target, func(t *testing.T) {
			parts := []string{target, auth}
			if strings.HasPrefix(target, "endpoint=") {
				parts = append(parts, "ttl=300s")
			}
			conn, db := l.open(t, nil, parts...)
			ctx := within(t, 2*time.Minute)
			if err := db.PingContext(ctx); err != nil {
				t.Fatal(err)
			}
			first, err := conn.Credential(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(parts) == 3 {
				if left := time.Until(first.Expiry); left > 300*time.Second || left < 200*time.Second {
					t.Errorf("ttl=300s gave a credential expiring in %s", left)
				}
			}
			// A login through Open that reports the first credential
			// refused, as a revocation would, makes the connector drop it
			// and mint the next.
			logins := 0
			err = conn.Open(ctx, func(ctx context.Context, l lakebase.Login) error {
				logins++
				if logins == 1 {
					return refusedLogin{}
				}
				return nil
			})
			if err != nil || logins != 2 {
				t.Fatalf("Open with the first credential refused = %v after %d logins; want success after 2", err, logins)
			}
			db.SetMaxIdleConns(0)
			if err := db.PingContext(ctx); err != nil {
				t.Fatalf("after the forced rotation: %v", err)
			}
			if n := conn.Stats().CredentialsMinted; n != 2 {
				t.Errorf("%d credentials minted, want 2: the first and its replacement", n)
			}
		})
	}
}

// read_only=true connects to a read-only host: a standby.
func TestLiveReadOnlyHost(t *testing.T) {
	l := liveEnv(t)
	if !l.readOnly {
		t.Skip("set LAKEBASE_LIVE_READ_ONLY=1 when the targets have read-only hosts")
	}
	auth := l.anyAuth(t)
	for _, target := range l.targets() {
		t.Run(target, func(t *testing.T) {
			_, db := l.open(t, nil, target, auth, "read_only=true")
			var standby bool
			if err := db.QueryRowContext(within(t, 2*time.Minute), "SELECT pg_is_in_recovery()").Scan(&standby); err != nil {
				t.Fatal(err)
			}
			if !standby {
				t.Error("read_only=true reached a primary")
			}
		})
	}
}

// An endpoint scaled to zero wakes for a connection within the connect
// budget.
func TestLiveWakingEndpoint(t *testing.T) {
	l := liveEnv(t)
	if l.idle == "" {
		t.Skip("set LAKEBASE_LIVE_IDLE_ENDPOINT to an endpoint that has scaled to zero")
	}
	_, db := l.open(t, nil, "endpoint="+quote(l.idle), l.anyAuth(t))
	start := time.Now()
	if err := db.PingContext(within(t, 5*time.Minute)); err != nil {
		t.Fatalf("after %s: %v", time.Since(start), err)
	}
	t.Logf("the endpoint woke and took a connection in %s", time.Since(start))
}

// sslmode=verify-full with the system's roots: Lakebase's certificates
// chain to public roots, so a verifying default is possible.
func TestLiveVerifyFullWithSystemRoots(t *testing.T) {
	l := liveEnv(t)
	auth := l.anyAuth(t)
	for _, target := range l.targets() {
		t.Run(target, func(t *testing.T) {
			_, db := l.open(t, nil, target, auth, "sslmode=verify-full", "sslrootcert=system")
			if err := db.PingContext(within(t, 2*time.Minute)); err != nil {
				t.Fatalf("verify-full with the system roots: %v", err)
			}
		})
	}
}

// A credential minted for one target logs in to another of the same
// workspace: credentials are workspace-scoped, as Lakebase's guide says.
func TestLiveCredentialIsWorkspaceScoped(t *testing.T) {
	l := liveEnv(t)
	if l.second == "" {
		t.Skip("set LAKEBASE_LIVE_SECOND_TARGET (instance=... or endpoint=...) to a second target")
	}
	auth := l.anyAuth(t)
	first, _ := l.open(t, nil, l.targets()[0], auth)
	_, db := l.open(t, func(c *lakebase.Config) { c.TokenSource = lakebase.TokenSourceFunc(first.Credential) }, l.second, auth)
	if err := db.PingContext(within(t, 2*time.Minute)); err != nil {
		t.Fatalf("a credential of %s at %s: %v (bound to its target?)", l.targets()[0], l.second, err)
	}
}

// refusedLogin is a login refused for its credential (SQLSTATE 28P01), as a
// client reports it to Connector.Open.
type refusedLogin struct{}

func (refusedLogin) Error() string    { return "the test refused the credential" }
func (refusedLogin) SQLState() string { return "28P01" }
