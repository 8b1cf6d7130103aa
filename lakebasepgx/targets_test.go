package lakebasepgx_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lakebase-go/lakebase/lakebasetest"
)

// After a failover (the instance's host moves and the old one is down), the
// pool's next new connection looks the host up again and lands on the new
// host, within the same Acquire; the connection's Config names it. (Idle
// connections to the old host are pgxpool's to find dead, by its ping
// before handing out a connection idle for a second, and its health check.)
func TestPoolFollowsFailover(t *testing.T) {
	t.Parallel()
	kit := shared.Kit(t)
	sp := newServicePrincipal(t, kit)
	name, oldGate, _ := addInstance(t, kit, false)
	pool := newPool(t, m2mDSN(kit, sp, "instance="+name, ""))
	ctx := testContext(t, time.Minute)

	// Held across the failover, so that the next Acquire opens a connection.
	acquire(t, ctx, pool)
	newGate, err := kit.StartFailoverGateway(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := oldGate.SetOutage(true); err != nil {
		t.Fatal(err)
	}
	if err := kit.Workspace.UpdateInstance(name, func(i *lakebasetest.Instance) { i.ReadWriteHost, i.ReadOnlyHost = newGate.Addr(), "" }); err != nil {
		t.Fatal(err)
	}

	conn := acquire(t, ctx, pool)
	if err := conn.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if got := newGate.Stats().Accepted; got != 1 {
		t.Errorf("the new host accepted %d logins, want 1", got)
	}
	if cfg := conn.Conn().Config(); cfg.Host != newGate.Host() || int(cfg.Port) != newGate.Port() || cfg.User != sp.ApplicationID {
		t.Errorf("connection config: host %s port %d user %s; want the new host's %s:%d as %s",
			cfg.Host, cfg.Port, cfg.User, newGate.Host(), newGate.Port(), sp.ApplicationID)
	}
}

// read_only=true sends every connection to the read-only host.
func TestPoolReadOnly(t *testing.T) {
	t.Parallel()
	kit := shared.Kit(t)
	sp := newServicePrincipal(t, kit)
	name, rw, ro := addInstance(t, kit, true)
	pool := newPool(t, m2mDSN(kit, sp, "instance="+name, "read_only=true pool_max_conns=2"))
	ctx := testContext(t, time.Minute)

	a := acquire(t, ctx, pool)
	acquire(t, ctx, pool)
	if r, w := ro.Stats().Accepted, rw.Stats().Accepted; r != 2 || w != 0 {
		t.Errorf("logins: read-only host %d, read-write host %d; want 2 and 0", r, w)
	}
	if got := a.Conn().Config().Port; int(got) != ro.Port() {
		t.Errorf("connection config port %d, want the read-only host's %d", got, ro.Port())
	}
}

// An endpoint waking from scale to zero is waited for within the connect
// budget: while its compute starts (INIT), and while its server refuses
// logins with 57P03.
func TestPoolWakingEndpoint(t *testing.T) {
	t.Parallel()
	kit := shared.Kit(t)
	sp := newServicePrincipal(t, kit)
	path := uniqueName("projects/p/branches/b/endpoints/e")
	ctx := testContext(t, time.Minute)
	gate, err := kit.AddEndpoint(lakebasetest.EndpointOptions{Path: path, State: "INIT"})
	if err != nil {
		t.Fatal(err)
	}
	gate.Waking(3, 0)
	pool := newPool(t, m2mDSN(kit, sp, "endpoint="+path, "pool_max_conns=1"))
	time.AfterFunc(500*time.Millisecond, func() {
		_ = kit.Workspace.UpdateEndpoint(path, func(ep *lakebasetest.Endpoint) { ep.State = "ACTIVE" })
	})

	start := time.Now()
	user, err := currentUser(ctx, pool)
	if err != nil {
		t.Fatalf("query on a waking endpoint: %v", err)
	}
	if user != sp.ApplicationID {
		t.Errorf("current_user = %q, want %q", user, sp.ApplicationID)
	}
	if waited := time.Since(start); waited < 500*time.Millisecond {
		t.Errorf("connected after %v, before the endpoint was ACTIVE", waited)
	}
	if s := gate.Stats(); s.Refused != 3 || s.Accepted != 1 {
		t.Errorf("gateway: %d logins refused while waking, %d accepted; want 3 and 1", s.Refused, s.Accepted)
	}
}

// A waking endpoint that does not wake within pgx's connect_timeout fails
// the Acquire at that deadline.
func TestPoolWakingEndpointBudget(t *testing.T) {
	t.Parallel()
	kit := shared.Kit(t)
	sp := newServicePrincipal(t, kit)
	path := uniqueName("projects/p/branches/b/endpoints/e")
	ctx := testContext(t, time.Minute)
	if _, err := kit.AddEndpoint(lakebasetest.EndpointOptions{Path: path, State: "INIT"}); err != nil {
		t.Fatal(err)
	}
	poolCfg, err := pgxpool.ParseConfig("connect_timeout=" + strconv.Itoa(1))
	if err != nil {
		t.Fatal(err)
	}
	pool := newPoolWithConfig(t, m2mDSN(kit, sp, "endpoint="+path, ""), poolCfg)

	start := time.Now()
	_, err = pool.Acquire(ctx)
	if err == nil {
		t.Fatal("acquire on an endpoint that never wakes succeeded")
	}
	if took := time.Since(start); took < 500*time.Millisecond || took > 10*time.Second {
		t.Errorf("gave up after %v, want about the 1s connect_timeout", took)
	}
}

// TLS is the driver's: sslmode require by default, and verify-full checks
// the server's certificate against sslrootcert (the kit's CA passes, the
// system's roots do not know it).
func TestPoolTLSAsTheDriver(t *testing.T) {
	t.Parallel()
	kit := shared.Kit(t)
	sp := newServicePrincipal(t, kit)
	base := fmt.Sprintf("instance=%s workspace=%s auth=oauth-m2m client_id=%s client_secret=%s",
		lakebasetest.DefaultInstance, quote(kit.Workspace.URL()), quote(sp.ApplicationID), quote(sp.Secret))
	tests := []struct {
		name string
		tls  string
		ok   bool
	}{
		{"default: require", "", true},
		{"verify-full with the kit's CA", "sslmode=verify-full sslrootcert=" + quote(kit.Postgres.CAFile()), true},
		{"verify-ca with the kit's CA", "sslmode=verify-ca sslrootcert=" + quote(kit.Postgres.CAFile()), true},
		{"verify-full with the system's roots", "sslmode=verify-full sslrootcert=system", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pool := newPool(t, base+" "+tt.tls)
			ctx := testContext(t, 30*time.Second)
			_, err := currentUser(ctx, pool)
			switch {
			case tt.ok && err != nil:
				t.Fatalf("query: %v", err)
			case !tt.ok && (err == nil || !strings.Contains(err.Error(), "certificate")):
				t.Fatalf("query = %v; want a certificate error", err)
			}
		})
	}
}
