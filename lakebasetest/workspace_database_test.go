package lakebasetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go/service/database"
)

func TestWorkspaceDatabaseCredential(t *testing.T) {
	tests := []struct {
		name     string
		lifetime time.Duration // 0: the default hour
		want     time.Duration
	}{
		{"default lifetime", 0, time.Hour},
		{"lifetime of seconds", 2 * time.Second, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, store := wsStart(t)
			w.SetCredentialLifetime(tt.lifetime)
			c := wsClient(t, w, wsM2M())
			before := time.Now()
			cred, err := c.Database.GenerateDatabaseCredential(t.Context(), database.GenerateDatabaseCredentialRequest{
				InstanceNames: []string{wsInstance},
			})
			if err != nil {
				t.Fatalf("GenerateDatabaseCredential: %v", err)
			}
			expiry, err := time.Parse(time.RFC3339, cred.ExpirationTime)
			if err != nil {
				t.Fatalf("expiration_time %q: %v", cred.ExpirationTime, err)
			}
			if lo, hi := before.Add(tt.want), time.Now().Add(tt.want); expiry.Before(lo) || expiry.After(hi) {
				t.Errorf("expiry %v not within [%v, %v]", expiry, lo, hi)
			}
			if err := store.check(cred.Token, wsSPID, instanceTarget(wsInstance)); err != nil {
				t.Errorf("store.check: %v", err)
			}
			// Workspace-scoped by default; bound to its instance on request.
			if err := store.check(cred.Token, wsSPID, endpointTarget(wsEndpoint)); err != nil {
				t.Errorf("the workspace-scoped credential does not work for an endpoint: %v", err)
			}
			store.bindToTargets()
			if err := store.check(cred.Token, wsSPID, endpointTarget(wsEndpoint)); err == nil {
				t.Error("the credential bound to its instance works for an endpoint too")
			}
			if w.Mints() != 1 || w.MintsFor(wsSPID) != 1 || w.MintsForInstance(wsInstance) != 1 || w.MintsFor(wsUserEmail) != 0 {
				t.Errorf("mints = %d, for sp %d, for instance %d, for user %d; want 1, 1, 1, 0",
					w.Mints(), w.MintsFor(wsSPID), w.MintsForInstance(wsInstance), w.MintsFor(wsUserEmail))
			}
		})
	}
}

func TestWorkspaceConcurrentMints(t *testing.T) {
	w, store := wsStart(t)
	c := wsClient(t, w, wsPAT(wsUserPAT))
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			cred, err := c.Database.GenerateDatabaseCredential(t.Context(), database.GenerateDatabaseCredentialRequest{
				InstanceNames: []string{wsInstance},
			})
			if err == nil {
				err = store.check(cred.Token, wsUserEmail, instanceTarget(wsInstance))
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if w.MintsFor(wsUserEmail) != n || w.Requests("database-credential") != n {
		t.Errorf("mints = %d, requests = %d, want %d", w.MintsFor(wsUserEmail), w.Requests("database-credential"), n)
	}
}

func TestWorkspaceInstanceLookup(t *testing.T) {
	w, _ := wsStart(t)
	wsMust(t, w.AddInstance(Instance{Name: "plain-db", ReadWriteHost: "127.0.0.1:1", State: "STOPPED"}))
	c := wsClient(t, w, wsM2M())
	get := func(name string) *database.DatabaseInstance {
		t.Helper()
		inst, err := c.Database.GetDatabaseInstance(t.Context(), database.GetDatabaseInstanceRequest{Name: name})
		if err != nil {
			t.Fatalf("GetDatabaseInstance(%s): %v", name, err)
		}
		return inst
	}

	inst := get(wsInstance)
	if inst.Name != wsInstance || inst.State != database.DatabaseInstanceStateAvailable || inst.ReadWriteDns != wsRWHost ||
		inst.ReadOnlyDns != wsROHost || !inst.EffectiveEnableReadableSecondaries || !inst.EffectiveEnablePgNativeLogin || inst.EffectiveStopped {
		t.Errorf("instance = %+v", inst)
	}
	plain := get("plain-db")
	if plain.ReadOnlyDns != "" || plain.EffectiveEnableReadableSecondaries || plain.EffectiveEnablePgNativeLogin ||
		!plain.EffectiveStopped || plain.State != database.DatabaseInstanceStateStopped {
		t.Errorf("instance = %+v", plain)
	}

	// A failover: the instance moves while the client runs.
	wsMust(t, w.UpdateInstance(wsInstance, func(i *Instance) { i.State = "FAILING_OVER" }))
	if got := get(wsInstance).State; got != database.DatabaseInstanceStateFailingOver {
		t.Errorf("state = %s, want FAILING_OVER", got)
	}
	wsMust(t, w.UpdateInstance(wsInstance, func(i *Instance) { i.ReadWriteHost, i.ReadOnlyHost = "127.0.0.1:2", "" }))
	wsMust(t, w.UpdateInstance(wsInstance, func(i *Instance) { i.State = "AVAILABLE" }))
	if got := get(wsInstance); got.ReadWriteDns != "127.0.0.1:2" || got.ReadOnlyDns != "" || got.State != database.DatabaseInstanceStateAvailable {
		t.Errorf("after failover: %+v", got)
	}
}

func TestWorkspaceInstanceList(t *testing.T) {
	w, _ := wsStart(t)
	for i := range 4 {
		wsMust(t, w.AddInstance(Instance{Name: fmt.Sprintf("db-%d", i)}))
	}
	c := wsClient(t, w, wsM2M())
	all, err := c.Database.ListDatabaseInstancesAll(t.Context(), database.ListDatabaseInstancesRequest{PageSize: 2})
	if err != nil {
		t.Fatalf("ListDatabaseInstancesAll: %v", err)
	}
	var names []string
	for _, inst := range all {
		names = append(names, inst.Name)
	}
	want := []string{"db-0", "db-1", "db-2", "db-3", wsInstance}
	if fmt.Sprint(names) != fmt.Sprint(want) {
		t.Errorf("names = %v, want %v", names, want)
	}
	if got := w.Requests("instances"); got != 3 {
		t.Errorf("pages fetched = %d, want 3", got)
	}
}

func TestWorkspaceRegistrationErrors(t *testing.T) {
	w, _ := wsStart(t)
	tests := []struct {
		name string
		err  error
	}{
		{"instance without name", w.AddInstance(Instance{})},
		{"instance in unknown state", w.AddInstance(Instance{Name: "x", State: "RUNNING"})},
		{"state of unknown instance", w.UpdateInstance("nope", func(i *Instance) { i.State = "AVAILABLE" })},
		{"unknown instance state", w.UpdateInstance(wsInstance, func(i *Instance) { i.State = "up" })},
		{"host of unknown instance", w.UpdateInstance("nope", func(i *Instance) { i.ReadWriteHost, i.ReadOnlyHost = "h", "" })},
		{"malformed endpoint path", w.AddEndpoint(Endpoint{Path: "projects/p/endpoints/e"})},
		{"endpoint in unknown state", w.AddEndpoint(Endpoint{Path: "projects/p/branches/b/endpoints/e", State: "AVAILABLE"})},
		{"state of unknown endpoint", w.UpdateEndpoint("projects/p/branches/b/endpoints/nope", func(ep *Endpoint) { ep.State = "IDLE" })},
		{"hosts of unknown endpoint", w.UpdateEndpoint("projects/p/branches/b/endpoints/nope", func(ep *Endpoint) { ep.Host = "h" })},
		{"user without e-mail", w.AddUser(User{Token: "t"})},
		{"service principal without secret", w.AddServicePrincipal(ServicePrincipal{ApplicationID: "id"})},
		{"unknown browser user", w.SetBrowserUser("nobody@example.com")},
	}
	for _, tt := range tests {
		if tt.err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}
