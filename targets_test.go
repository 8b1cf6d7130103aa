package lakebase_test

import (
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/internal/testenv"
	"github.com/lakebase-go/lakebase/lakebasetest"
)

// Each kind of target lands on the gateway the workspace names for it, with
// a credential minted for that instance or endpoint.
func TestTargets(t *testing.T) {
	t.Parallel()
	kit := sharedKit(t)

	for _, tt := range []struct {
		name     string
		endpoint bool // an Autoscaling endpoint, else a Provisioned instance
		readOnly bool // read_only=true
	}{
		{name: "provisioned instance"},
		{name: "autoscaling endpoint", endpoint: true},
		{name: "read-only instance", readOnly: true},
		{name: "read-only endpoint", endpoint: true, readOnly: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sp := newServicePrincipal(t, kit)
			target := newTarget(t, kit, tt.endpoint)
			_, db := openConnector(t, fmt.Sprintf("read_only=%t %s %s", tt.readOnly, target.keys, m2mKeys(kit, sp)))
			wantCurrentUser(t, db, sp.ApplicationID)
			wantRW, wantRO := int64(1), int64(0)
			if tt.readOnly {
				wantRW, wantRO = 0, 1
			}
			if rw, ro := accepted(target.readWrite), accepted(target.readOnly); rw != wantRW || ro != wantRO {
				t.Errorf("logins: read-write %d, read-only %d; want %d, %d", rw, ro, wantRW, wantRO)
			}
			if n := target.mints(); n != 1 {
				t.Errorf("%d credentials minted for the target, want 1", n)
			}
		})
	}

	t.Run("autoscaling endpoint with a ttl", func(t *testing.T) {
		t.Parallel()
		sp := newServicePrincipal(t, kit)
		path := addEndpoint(t, kit, lakebasetest.EndpointOptions{})
		conn, db := openConnector(t, "ttl=300s endpoint="+path+" "+m2mKeys(kit, sp))
		before := time.Now()
		wantCurrentUser(t, db, sp.ApplicationID)
		// The kit's credentials live an hour; the ttl asks for five minutes.
		if life := conn.Stats().CredentialExpiry.Sub(before); life < 4*time.Minute || life > 6*time.Minute {
			t.Errorf("the credential lives %s, want the 5 minutes the ttl asked for", life)
		}
	})

	t.Run("read-only without a read-only host", func(t *testing.T) {
		t.Parallel()
		sp := newServicePrincipal(t, kit)
		name := addInstance(t, kit, lakebasetest.InstanceOptions{})
		_, db := openConnector(t, "read_only=true instance="+name+" "+m2mKeys(kit, sp))
		err := db.Ping()
		if err == nil {
			t.Fatal("Ping succeeded; want an error: the instance has no read-only host")
		}
		wantConnectError(t, err, "resolve", strconv.Quote(name), "read_only=true", "read-only host")
		if !errors.Is(err, lakebase.ErrNotFound) {
			t.Errorf("errors.Is(%v, ErrNotFound) = false", err)
		}
		if n := kit.Workspace.MintsForInstance(name); n > 1 {
			t.Errorf("%d credentials minted for a target that cannot be reached, want at most the 1 minted beside the lookup", n)
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
		_, db := openConnector(t, dsn)
		wantCurrentUser(t, db, sp.ApplicationID)
		if accepted(other) != 1 || accepted(rwGate) != 0 {
			t.Errorf("logins: override %d, looked-up host %d; want 1, 0", accepted(other), accepted(rwGate))
		}
		if n := kit.Workspace.MintsForInstance(name); n != 1 {
			t.Errorf("%d credentials minted for the instance, want 1", n)
		}
	})

	t.Run("pooled host with a native password", func(t *testing.T) {
		t.Parallel()
		testenv.Require(t, kit.StartPgBouncer(contextFor(t, time.Minute)))
		path := addEndpoint(t, kit, lakebasetest.EndpointOptions{Pooled: true})
		hosts := endpointHostsOf(t, kit, path)
		rwGate, pooledGate := gatewayAt(t, kit, hosts.Host), gatewayAt(t, kit, hosts.ReadWritePooledHost)
		// The lookup logs in to the workspace with unified authentication;
		// the session logs in with the native role's password.
		dsn := fmt.Sprintf("endpoint=%s pooled=true user=%s password=%s workspace=%s token=%s %s",
			path, quote(kit.NativeRole), quote(kit.NativePassword), quote(kit.Workspace.URL()), quote(kit.User.Token), tlsKeys(kit))
		logs := newLogCapture()
		_, db := openConnector(t, dsn, withLogger(logs))
		wantCurrentUser(t, db, kit.NativeRole)
		if accepted(pooledGate) != 1 || accepted(rwGate) != 0 {
			t.Errorf("logins: pooled %d, read-write %d; want 1, 0", accepted(pooledGate), accepted(rwGate))
		}
		if n := kit.Workspace.MintsForEndpoint(path); n != 0 {
			t.Errorf("%d credentials minted for a native login, want 0", n)
		}
		kitSecrets(kit).check(t, logs)
	})

	t.Run("pooled with an instance is refused at open", func(t *testing.T) {
		t.Parallel()
		db, err := sql.Open("lakebase", "pooled=true "+kit.DSNs().M2M)
		if err == nil {
			db.Close()
		}
		if !errors.Is(err, lakebase.ErrInvalidDSN) || !strings.Contains(fmt.Sprint(err), "pooled") {
			t.Errorf("pooled=true with an instance: %v; want ErrInvalidDSN naming pooled", err)
		}
		kitSecrets(kit).check(t, nil, err)
	})
}

// PGHOSTADDR, which lib/pq reads to dial an address other than the host's,
// never redirects the host looked up for an instance.
func TestPGHostaddrNeverRedirectsALookedUpHost(t *testing.T) {
	kit := sharedKit(t)
	sp := newServicePrincipal(t, kit)
	name := addInstance(t, kit, lakebasetest.InstanceOptions{})
	t.Setenv("PGHOSTADDR", "127.0.0.9") // nothing listens there
	_, db := openConnector(t, "instance="+name+" "+m2mKeys(kit, sp))
	wantCurrentUser(t, db, sp.ApplicationID)
}

// testTarget is an instance or endpoint of a test's own, with a read-only
// host, and its gateways.
type testTarget struct {
	keys                string // "instance=name" or "endpoint=path"
	host                string // the read-write host the workspace gives
	readWrite, readOnly *lakebasetest.Gateway
	mints               func() int // credentials minted for it so far
}

// newTarget registers an endpoint (else an instance) of the test's own with
// kit.
func newTarget(t *testing.T, kit *lakebasetest.Kit, endpoint bool) testTarget {
	t.Helper()
	if endpoint {
		path := addEndpoint(t, kit, lakebasetest.EndpointOptions{ReadOnly: true})
		hosts := endpointHostsOf(t, kit, path)
		return testTarget{keys: "endpoint=" + path, host: hosts.Host,
			readWrite: gatewayAt(t, kit, hosts.Host), readOnly: gatewayAt(t, kit, hosts.ReadOnlyHost),
			mints: func() int { return kit.Workspace.MintsForEndpoint(path) }}
	}
	name := addInstance(t, kit, lakebasetest.InstanceOptions{ReadOnly: true})
	rw, ro := instanceHosts(t, kit, name)
	return testTarget{keys: "instance=" + name, host: rw,
		readWrite: gatewayAt(t, kit, rw), readOnly: gatewayAt(t, kit, ro),
		mints: func() int { return kit.Workspace.MintsForInstance(name) }}
}
