package lakebase_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lakebase-go/lakebase/lakebasetest"
)

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
