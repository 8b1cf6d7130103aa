package lakebase_test

import (
	"database/sql"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
)

// accepted reads a gateway's count of accepted logins.
func accepted(g *lakebasetest.Gateway) int64 { return g.Stats().Accepted }

// Each kind of target lands on the gateway the workspace names for it, with
// a credential minted for that instance or endpoint.
func TestTargets(t *testing.T) {
	t.Parallel()
	kit := sharedKit(t)

	t.Run("provisioned instance", func(t *testing.T) {
		t.Parallel()
		sp := newServicePrincipal(t, kit)
		name := addInstance(t, kit, lakebasetest.InstanceOptions{ReadOnly: true})
		rw, ro := instanceHosts(t, kit, name)
		rwGate, roGate := gatewayAt(t, kit, rw), gatewayAt(t, kit, ro)
		_, db := openConnector(t, "instance="+name+" "+m2mKeys(kit, sp), nil)
		if got := mustCurrentUser(t, db); got != sp.ApplicationID {
			t.Errorf("current_user = %q, want %q", got, sp.ApplicationID)
		}
		if accepted(rwGate) != 1 || accepted(roGate) != 0 {
			t.Errorf("logins: read-write %d, read-only %d; want 1, 0", accepted(rwGate), accepted(roGate))
		}
		if n := kit.Workspace.MintsForInstance(name); n != 1 {
			t.Errorf("%d credentials minted for the instance, want 1", n)
		}
	})

	t.Run("autoscaling endpoint", func(t *testing.T) {
		t.Parallel()
		sp := newServicePrincipal(t, kit)
		path := addEndpoint(t, kit, lakebasetest.EndpointOptions{ReadOnly: true})
		hosts := endpointHostsOf(t, kit, path)
		rwGate, roGate := gatewayAt(t, kit, hosts.Host), gatewayAt(t, kit, hosts.ReadOnlyHost)
		_, db := openConnector(t, "endpoint="+path+" "+m2mKeys(kit, sp), nil)
		if got := mustCurrentUser(t, db); got != sp.ApplicationID {
			t.Errorf("current_user = %q, want %q", got, sp.ApplicationID)
		}
		if accepted(rwGate) != 1 || accepted(roGate) != 0 {
			t.Errorf("logins: read-write %d, read-only %d; want 1, 0", accepted(rwGate), accepted(roGate))
		}
		if n := kit.Workspace.MintsForEndpoint(path); n != 1 {
			t.Errorf("%d credentials minted for the endpoint, want 1", n)
		}
	})

	t.Run("autoscaling endpoint with a ttl", func(t *testing.T) {
		t.Parallel()
		sp := newServicePrincipal(t, kit)
		path := addEndpoint(t, kit, lakebasetest.EndpointOptions{})
		conn, db := openConnector(t, "ttl=300s endpoint="+path+" "+m2mKeys(kit, sp), nil)
		before := time.Now()
		if got := mustCurrentUser(t, db); got != sp.ApplicationID {
			t.Errorf("current_user = %q, want %q", got, sp.ApplicationID)
		}
		// The kit's credentials live an hour; the ttl asks for five minutes.
		if life := conn.Stats().CredentialExpiry.Sub(before); life < 4*time.Minute || life > 6*time.Minute {
			t.Errorf("the credential lives %s, want the 5 minutes the ttl asked for", life)
		}
	})

	t.Run("read-only instance", func(t *testing.T) {
		t.Parallel()
		sp := newServicePrincipal(t, kit)
		name := addInstance(t, kit, lakebasetest.InstanceOptions{ReadOnly: true})
		rw, ro := instanceHosts(t, kit, name)
		rwGate, roGate := gatewayAt(t, kit, rw), gatewayAt(t, kit, ro)
		_, db := openConnector(t, "read_only=true instance="+name+" "+m2mKeys(kit, sp), nil)
		if got := mustCurrentUser(t, db); got != sp.ApplicationID {
			t.Errorf("current_user = %q, want %q", got, sp.ApplicationID)
		}
		if accepted(rwGate) != 0 || accepted(roGate) != 1 {
			t.Errorf("logins: read-write %d, read-only %d; want 0, 1", accepted(rwGate), accepted(roGate))
		}
	})

	t.Run("read-only endpoint", func(t *testing.T) {
		t.Parallel()
		sp := newServicePrincipal(t, kit)
		path := addEndpoint(t, kit, lakebasetest.EndpointOptions{ReadOnly: true})
		hosts := endpointHostsOf(t, kit, path)
		rwGate, roGate := gatewayAt(t, kit, hosts.Host), gatewayAt(t, kit, hosts.ReadOnlyHost)
		_, db := openConnector(t, "read_only=true endpoint="+path+" "+m2mKeys(kit, sp), nil)
		if got := mustCurrentUser(t, db); got != sp.ApplicationID {
			t.Errorf("current_user = %q, want %q", got, sp.ApplicationID)
		}
		if accepted(rwGate) != 0 || accepted(roGate) != 1 {
			t.Errorf("logins: read-write %d, read-only %d; want 0, 1", accepted(rwGate), accepted(roGate))
		}
	})

	t.Run("read-only without a read-only host", func(t *testing.T) {
		t.Parallel()
		sp := newServicePrincipal(t, kit)
		name := addInstance(t, kit, lakebasetest.InstanceOptions{})
		_, db := openConnector(t, "read_only=true instance="+name+" "+m2mKeys(kit, sp), nil)
		err := db.Ping()
		if err == nil {
			t.Fatal("Ping succeeded; want an error: the instance has no read-only host")
		}
		wantConnectError(t, err, "resolve", strconv.Quote(name), "read_only=true", "read-only host")
		if !errors.Is(err, lakebase.ErrNotFound) {
			t.Errorf("errors.Is(%v, ErrNotFound) = false", err)
		}
		if n := kit.Workspace.MintsForInstance(name); n != 0 {
			t.Errorf("%d credentials minted for a target that cannot be reached, want 0", n)
		}
	})

	t.Run("host override", func(t *testing.T) {
		t.Parallel()
		sp := newServicePrincipal(t, kit)
		name := addInstance(t, kit, lakebasetest.InstanceOptions{})
		rw, _ := instanceHosts(t, kit, name)
		rwGate := gatewayAt(t, kit, rw)
		other, err := kit.StartFailoverGateway(name)
		if err != nil {
			t.Fatal(err)
		}
		dsn := fmt.Sprintf("instance=%s host=%s port=%d %s", name, other.Host(), other.Port(), m2mKeys(kit, sp))
		_, db := openConnector(t, dsn, nil)
		if got := mustCurrentUser(t, db); got != sp.ApplicationID {
			t.Errorf("current_user = %q, want %q", got, sp.ApplicationID)
		}
		if accepted(other) != 1 || accepted(rwGate) != 0 {
			t.Errorf("logins: override %d, looked-up host %d; want 1, 0", accepted(other), accepted(rwGate))
		}
		if n := kit.Workspace.MintsForInstance(name); n != 1 {
			t.Errorf("%d credentials minted for the instance, want 1", n)
		}
	})

	t.Run("pooled host with a native password", func(t *testing.T) {
		t.Parallel()
		path := addEndpoint(t, kit, lakebasetest.EndpointOptions{Pooled: true})
		hosts := endpointHostsOf(t, kit, path)
		rwGate, pooledGate := gatewayAt(t, kit, hosts.Host), gatewayAt(t, kit, hosts.ReadWritePooledHost)
		// The lookup logs in to the workspace with unified authentication;
		// the session logs in with the native role's password.
		dsn := fmt.Sprintf("endpoint=%s pooled=true user=%s password=%s workspace=%s token=%s %s",
			path, quote(kit.NativeRole), quote(kit.NativePassword), quote(kit.Workspace.URL()), quote(kit.User.Token), tlsKeys(kit))
		logger, logs := debugLogger()
		_, db := openConnector(t, dsn, func(c *lakebase.Config) { c.Logger = logger })
		if got := mustCurrentUser(t, db); got != kit.NativeRole {
			t.Errorf("current_user = %q, want %q", got, kit.NativeRole)
		}
		if accepted(pooledGate) != 1 || accepted(rwGate) != 0 {
			t.Errorf("logins: pooled %d, read-write %d; want 1, 0", accepted(pooledGate), accepted(rwGate))
		}
		if n := kit.Workspace.MintsForEndpoint(path); n != 0 {
			t.Errorf("%d credentials minted for a native login, want 0", n)
		}
		var s secrets
		s.addKit(kit)
		s.check(t, logs)
	})

	t.Run("pooled with oauth is refused at open", func(t *testing.T) {
		t.Parallel()
		db, err := sql.Open("lakebase", "pooled=true "+kit.DSNs().Endpoint)
		if err == nil {
			db.Close()
		}
		if !errors.Is(err, lakebase.ErrInvalidDSN) || !strings.Contains(fmt.Sprint(err), "pooled") {
			t.Errorf("pooled=true with oauth-m2m: %v; want ErrInvalidDSN naming pooled", err)
		}
		var s secrets
		s.addKit(kit)
		s.check(t, nil, err)
	})
}

// appEnvironment sets what Databricks Apps give an app with a database
// resource whose host is gateway's, logged in as sp.
func appEnvironment(t *testing.T, kit *lakebasetest.Kit, sp lakebasetest.ServicePrincipal, host string) {
	t.Helper()
	h, p, err := net.SplitHostPort(host)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"DATABRICKS_HOST":          kit.Workspace.URL(),
		"DATABRICKS_CLIENT_ID":     sp.ApplicationID,
		"DATABRICKS_CLIENT_SECRET": sp.Secret,
		"PGHOST":                   h,
		"PGPORT":                   p,
		"PGDATABASE":               lakebasetest.DefaultDatabase,
		"PGUSER":                   sp.ApplicationID,
		"PGSSLMODE":                "verify-full",
		"PGSSLROOTCERT":            kit.Postgres.CAFile(),
		"PGAPPNAME":                "lakebase-test-app",
	} {
		t.Setenv(k, v)
	}
}

// Inside a Databricks App the environment alone is enough: an empty DSN
// finds the instance or endpoint whose host is PGHOST by listing them, and
// mints for it.
func TestDatabricksAppZeroConfig(t *testing.T) {
	kit := sharedKit(t)
	t.Run("instance", func(t *testing.T) {
		sp := newServicePrincipal(t, kit)
		name := addInstance(t, kit, lakebasetest.InstanceOptions{})
		rw, _ := instanceHosts(t, kit, name)
		appEnvironment(t, kit, sp, rw)
		_, db := openConnector(t, "", nil)
		if got := mustCurrentUser(t, db); got != sp.ApplicationID {
			t.Errorf("current_user = %q, want %q", got, sp.ApplicationID)
		}
		if n := kit.Workspace.MintsForInstance(name); n != 1 {
			t.Errorf("%d credentials minted for the instance, want 1", n)
		}
		if accepted(gatewayAt(t, kit, rw)) != 1 {
			t.Errorf("the instance's gateway accepted %d logins, want 1", accepted(gatewayAt(t, kit, rw)))
		}
	})
	t.Run("endpoint", func(t *testing.T) {
		sp := newServicePrincipal(t, kit)
		path := addEndpoint(t, kit, lakebasetest.EndpointOptions{})
		host := endpointHostsOf(t, kit, path).Host
		appEnvironment(t, kit, sp, host)
		_, db := openConnector(t, "", nil)
		if got := mustCurrentUser(t, db); got != sp.ApplicationID {
			t.Errorf("current_user = %q, want %q", got, sp.ApplicationID)
		}
		if n := kit.Workspace.MintsForEndpoint(path); n != 1 {
			t.Errorf("%d credentials minted for the endpoint, want 1", n)
		}
		if accepted(gatewayAt(t, kit, host)) != 1 {
			t.Errorf("the endpoint's gateway accepted %d logins, want 1", accepted(gatewayAt(t, kit, host)))
		}
	})
}

// PGHOSTADDR, which lib/pq reads to dial an address other than the host's,
// never redirects the host looked up for an instance.
func TestPGHostaddrNeverRedirectsALookedUpHost(t *testing.T) {
	kit := sharedKit(t)
	sp := newServicePrincipal(t, kit)
	name := addInstance(t, kit, lakebasetest.InstanceOptions{})
	t.Setenv("PGHOSTADDR", "127.0.0.9") // nothing listens there
	_, db := openConnector(t, "instance="+name+" "+m2mKeys(kit, sp), nil)
	if got := mustCurrentUser(t, db); got != sp.ApplicationID {
		t.Errorf("current_user = %q, want %q", got, sp.ApplicationID)
	}
}
