package lakebasetest

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// The states the kit's instances and endpoints can be in, as the API names
// them.
var (
	instanceStates = []string{"AVAILABLE", "STARTING", "STOPPED", "UPDATING", "DELETING", "FAILING_OVER"}
	endpointStates = []string{"ACTIVE", "IDLE", "INIT", "DEGRADED"}
)

// checkState fails unless s is one of known.
func checkState(known []string, s string) error {
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
	State string
	// ReadWriteHost is read_write_dns.
	ReadWriteHost string
	// ReadOnlyHost is read_only_dns; empty means readable secondaries are off
	// and the field is absent.
	ReadOnlyHost string
	// NativeLogin is effective_enable_pg_native_login: Postgres roles with
	// passwords may log in.
	NativeLogin bool
}

// Endpoint is an Autoscaling compute endpoint. Its project and branch exist
// as long as one of their endpoints does. Its hosts (status.hosts) may
// carry a port, as an Instance's may; an empty host is absent.
type Endpoint struct {
	// Path is "projects/P/branches/B/endpoints/E".
	Path string
	// State is status.current_state: ACTIVE (the default when empty),
	// IDLE (scaled to zero), INIT (waking) or DEGRADED.
	State string
	// PendingState is status.pending_state, the state the compute is moving
	// to (IDLE while it suspends, ACTIVE while it wakes); empty when settled.
	PendingState string
	// Disabled is spec.disabled and status.disabled: connections are
	// restricted, and no connection can enable the endpoint again.
	Disabled bool

	Host                string // read-write host
	ReadOnlyHost        string
	ReadWritePooledHost string // PgBouncer in front of Host
	ReadOnlyPooledHost  string // PgBouncer in front of ReadOnlyHost
}

// AddInstance registers inst, replacing an instance with the same name.
func (w *Workspace) AddInstance(inst Instance) error {
	inst.State = cmp.Or(inst.State, "AVAILABLE")
	return wsStore(w, w.instances, "instance", inst.Name, inst)
}

// UpdateInstance changes the instance called name as change says, as a
// start, a stop or a failover would: change gets a copy to edit, and the
// instance keeps the edits if they leave it valid. Its name cannot change.
func (w *Workspace) UpdateInstance(name string, change func(*Instance)) error {
	return wsUpdate(w, w.instances, "instance", name, func(inst *Instance) {
		change(inst)
		inst.Name = name
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
	ep.State = cmp.Or(ep.State, "ACTIVE")
	return wsStore(w, w.endpoints, "endpoint", ep.Path, ep)
}

// UpdateEndpoint changes the endpoint at path as change says, as scaling
// to zero (State IDLE), waking (INIT, then ACTIVE) or its owner (Disabled)
// would: change gets a copy to edit, and the endpoint keeps the edits if
// they leave it valid. Its path cannot change.
func (w *Workspace) UpdateEndpoint(path string, change func(*Endpoint)) error {
	return wsUpdate(w, w.endpoints, "endpoint", path, func(ep *Endpoint) {
		change(ep)
		ep.Path = path
	})
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
