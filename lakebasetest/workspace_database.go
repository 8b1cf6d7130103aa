package lakebasetest

import (
	"fmt"
	"maps"
	"net/http"
	"slices"

	"github.com/databricks/databricks-sdk-go/service/database"
)

// serveDatabaseCredential mints a credential for one Provisioned instance.
// The real API accepts several instance names (and claims); the kit binds a
// credential to exactly one instance and answers 400 otherwise.
func (w *Workspace) serveDatabaseCredential(rw http.ResponseWriter, r *http.Request, identity string) {
	var req database.GenerateDatabaseCredentialRequest
	if !wsDecodeJSON(rw, r, &req) {
		return
	}
	if len(req.InstanceNames) != 1 {
		wsWriteError(rw, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "lakebasetest mints a credential for exactly one instance name")
		return
	}
	name := req.InstanceNames[0]
	if _, ok := w.instance(rw, name); !ok {
		return
	}
	c, ok := w.mint(rw, r, identity, instanceTarget(name), 0, requestClaims(req.Claims))
	if !ok {
		return
	}
	expiry, _ := w.writtenExpiry(c.expiry)
	wsWriteJSON(rw, database.DatabaseCredential{Token: c.token, ExpirationTime: expiry})
}

// serveInstance answers an instance lookup.
func (w *Workspace) serveInstance(rw http.ResponseWriter, r *http.Request, _ string) {
	if inst, ok := w.instance(rw, r.PathValue("name")); ok {
		wsWriteJSON(rw, wsInstanceJSON(inst))
	}
}

// serveInstances lists instances by name, a page at a time.
func (w *Workspace) serveInstances(rw http.ResponseWriter, r *http.Request, _ string) {
	w.mu.Lock()
	names := slices.Sorted(maps.Keys(w.instances))
	all := make([]database.DatabaseInstance, len(names))
	for i, n := range names {
		all[i] = wsInstanceJSON(w.instances[n])
	}
	w.mu.Unlock()
	page, next, ok := wsPage(rw, r, all)
	if ok {
		wsWriteJSON(rw, database.ListDatabaseInstancesResponse{DatabaseInstances: page, NextPageToken: next})
	}
}

// instance finds instance name, or answers 404.
func (w *Workspace) instance(rw http.ResponseWriter, name string) (Instance, bool) {
	return wsLookup(w, rw, w.instances, name, fmt.Sprintf("Database instance '%s' does not exist.", name))
}

// wsInstanceJSON is how the API describes inst.
func wsInstanceJSON(inst Instance) database.DatabaseInstance {
	secondaries := inst.ReadOnlyHost != ""
	nodes := 1
	if secondaries {
		nodes = 2
	}
	return database.DatabaseInstance{
		Name:                               inst.Name,
		Uid:                                wsStableID(instanceTarget(inst.Name)),
		State:                              database.DatabaseInstanceState(inst.State),
		ReadWriteDns:                       inst.ReadWriteHost,
		ReadOnlyDns:                        inst.ReadOnlyHost,
		EffectiveStopped:                   inst.State == "STOPPED",
		EnablePgNativeLogin:                inst.NativeLogin,
		EffectiveEnablePgNativeLogin:       inst.NativeLogin,
		EnableReadableSecondaries:          secondaries,
		EffectiveEnableReadableSecondaries: secondaries,
		NodeCount:                          nodes,
		EffectiveNodeCount:                 nodes,
		Capacity:                           "CU_1",
		EffectiveCapacity:                  "CU_1",
		PgVersion:                          "PG_VERSION_16",
	}
}
