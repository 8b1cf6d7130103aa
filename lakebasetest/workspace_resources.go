package lakebasetest

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/databricks/databricks-sdk-go/service/database"
	"github.com/databricks/databricks-sdk-go/service/postgres"
)

// The states the kit's instances and endpoints can be in, as the API names
// them: the SDK's types, so that a test writes database.DatabaseInstanceStateStopped
// or postgres.EndpointStatusStateIdle (or the string).
var (
	instanceStates = []database.DatabaseInstanceState{
		database.DatabaseInstanceStateAvailable, database.DatabaseInstanceStateStarting,
		database.DatabaseInstanceStateStopped, database.DatabaseInstanceStateUpdating,
		database.DatabaseInstanceStateDeleting, database.DatabaseInstanceStateFailingOver,
	}
	endpointStates = []postgres.EndpointStatusState{
		postgres.EndpointStatusStateActive, postgres.EndpointStatusStateIdle,
		postgres.EndpointStatusStateInit, postgres.EndpointStatusStateDegraded,
	}
)

// checkState fails unless s is one of known.
func checkState[S ~string](known []S, s S) error {
	if !slices.Contains(known, s) {
		return fmt.Errorf("unknown state %q", s)
	}
	return nil
}

// Instance is a Provisioned database instance. Hosts may carry a port
// ("127.0.0.1:54321"), since the kit's gateways listen on random ports; the
// real service returns bare DNS names.
type Instance struct {
	// Name identifies the instance.
	Name string
	// State is one of AVAILABLE (the default when empty), STARTING,
	// STOPPED, UPDATING, DELETING, FAILING_OVER. STOPPED also sets
	// effective_stopped.
	State database.DatabaseInstanceState
	// ReadWriteHost is read_write_dns.
	ReadWriteHost string
	// ReadOnlyHost is read_only_dns; empty means readable secondaries are off
	// and the field is absent.
	ReadOnlyHost string
	// NativeLogin is effective_enable_pg_native_login: Postgres roles with
	// passwords may log in.
	NativeLogin bool
}

// EndpointHosts are the host names of an Autoscaling endpoint
// (status.hosts). Any may carry a port, as Instance's hosts may.
type EndpointHosts struct {
	Host                string // read-write host
	ReadOnlyHost        string // empty: none
	ReadWritePooledHost string // PgBouncer in front of Host; empty: none
	ReadOnlyPooledHost  string // PgBouncer in front of ReadOnlyHost; empty: none
}

// Endpoint is an Autoscaling compute endpoint. Its project and branch exist
// as long as one of their endpoints does.
type Endpoint struct {
	// Path is "projects/P/branches/B/endpoints/E".
	Path string
	// State is status.current_state: ACTIVE (the default when empty),
	// IDLE (scaled to zero), INIT (waking) or DEGRADED.
	State postgres.EndpointStatusState
	// PendingState is status.pending_state, the state the compute is moving
	// to (IDLE while it suspends, ACTIVE while it wakes); empty when settled.
	PendingState postgres.EndpointStatusState
	// Disabled is spec.disabled and status.disabled: connections are
	// restricted, and no connection can enable the endpoint again.
	Disabled bool
	// Hosts are status.hosts.
	Hosts EndpointHosts
}

// AddInstance registers inst, replacing an instance with the same name.
func (w *Workspace) AddInstance(inst Instance) error {
	inst.State = cmp.Or(inst.State, database.DatabaseInstanceStateAvailable)
	return wsStore(w, w.instances, "instance", inst.Name, inst)
}

// SetInstanceState changes the state of instance name, as a start, a stop
// or a failover would.
func (w *Workspace) SetInstanceState(name string, state database.DatabaseInstanceState) error {
	return wsUpdate(w, w.instances, "instance", name, func(inst *Instance) { inst.State = state })
}

// SetInstanceHost changes the hosts of instance name, as a failover does;
// an empty readOnly turns readable secondaries off.
func (w *Workspace) SetInstanceHost(name, readWrite, readOnly string) error {
	return wsUpdate(w, w.instances, "instance", name, func(inst *Instance) {
		inst.ReadWriteHost, inst.ReadOnlyHost = readWrite, readOnly
	})
}

// check says what makes inst unfit for the workspace, if anything.
func (inst Instance) check() error {
	if inst.Name == "" || strings.Contains(inst.Name, "/") {
		return fmt.Errorf("invalid name %q", inst.Name)
	}
	return checkState(instanceStates, inst.State)
}

// AddEndpoint registers ep, replacing an endpoint with the same path.
func (w *Workspace) AddEndpoint(ep Endpoint) error {
	ep.State = cmp.Or(ep.State, postgres.EndpointStatusStateActive)
	return wsStore(w, w.endpoints, "endpoint", ep.Path, ep)
}

// SetEndpointState changes the compute state of the endpoint at path, as
// scaling to zero (IDLE) or waking (INIT, then ACTIVE) would.
func (w *Workspace) SetEndpointState(path string, state postgres.EndpointStatusState) error {
	return wsUpdate(w, w.endpoints, "endpoint", path, func(ep *Endpoint) { ep.State = state })
}

// SetEndpointPendingState sets the state that the compute of the endpoint at
// path is moving to, as a wake (ACTIVE) or a suspension (IDLE) in progress
// shows it; an empty state says it has settled.
func (w *Workspace) SetEndpointPendingState(path string, state postgres.EndpointStatusState) error {
	return wsUpdate(w, w.endpoints, "endpoint", path, func(ep *Endpoint) { ep.PendingState = state })
}

// SetEndpointDisabled disables (or enables again) the endpoint at path, as
// its owner does in the workspace.
func (w *Workspace) SetEndpointDisabled(path string, disabled bool) error {
	return wsUpdate(w, w.endpoints, "endpoint", path, func(ep *Endpoint) { ep.Disabled = disabled })
}

// SetEndpointHosts changes the hosts of the endpoint at path.
func (w *Workspace) SetEndpointHosts(path string, hosts EndpointHosts) error {
	return wsUpdate(w, w.endpoints, "endpoint", path, func(ep *Endpoint) { ep.Hosts = hosts })
}

// check says what makes ep unfit for the workspace, if anything.
func (ep Endpoint) check() error {
	if _, _, _, err := parseEndpointPath(ep.Path); err != nil {
		return err
	}
	if err := checkState(endpointStates, ep.State); err != nil {
		return err
	}
	if ep.PendingState == "" {
		return nil
	}
	if err := checkState(endpointStates, ep.PendingState); err != nil {
		return fmt.Errorf("pending: %w", err)
	}
	return nil
}

// wsResource is what the workspace keeps in its resource maps.
type wsResource interface {
	Instance | Endpoint
	check() error
}

// wsStore puts v under key in m, one of the workspace's resource maps, if v
// is fit; kind names what m holds.
func wsStore[V wsResource](w *Workspace, m map[string]V, kind, key string, v V) error {
	if err := v.check(); err != nil {
		return fmt.Errorf("lakebasetest: add %s %q: %w", kind, key, err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	m[key] = v
	return nil
}

// wsFind returns the value under key in m, one of the workspace's resource
// maps.
func wsFind[V any](w *Workspace, m map[string]V, key string) (V, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	v, ok := m[key]
	return v, ok
}

// wsLookup is wsFind for a route: where m has no key it answers 404 with
// notFound.
func wsLookup[V any](w *Workspace, rw http.ResponseWriter, m map[string]V, key, notFound string) (V, bool) {
	v, ok := wsFind(w, m, key)
	if !ok {
		wsWriteError(rw, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", notFound)
	}
	return v, ok
}

// wsUpdate changes the value under key in m, one of the workspace's
// resource maps, if there is one and it stays fit; kind names what m holds.
func wsUpdate[V wsResource](w *Workspace, m map[string]V, kind, key string, change func(*V)) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	v, ok := m[key]
	if !ok {
		return fmt.Errorf("lakebasetest: no %s %q", kind, key)
	}
	change(&v)
	if err := v.check(); err != nil {
		return fmt.Errorf("lakebasetest: change %s %q: %w", kind, key, err)
	}
	m[key] = v
	return nil
}

// parseEndpointPath splits "projects/P/branches/B/endpoints/E".
func parseEndpointPath(path string) (project, branch, endpoint string, err error) {
	parts := strings.Split(path, "/")
	if len(parts) != 6 || parts[0] != "projects" || parts[2] != "branches" || parts[4] != "endpoints" ||
		parts[1] == "" || parts[3] == "" || parts[5] == "" {
		return "", "", "", fmt.Errorf("endpoint path must be projects/P/branches/B/endpoints/E, got %q", path)
	}
	return parts[1], parts[3], parts[5], nil
}
