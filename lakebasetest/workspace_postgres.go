package lakebasetest

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"time"

	sdktime "github.com/databricks/databricks-sdk-go/common/types/time"
	"github.com/databricks/databricks-sdk-go/service/postgres"
)

// Bounds of an Autoscaling credential's requested lifetime, as in the API.
// expire_time is judged with some slack, since the client computed it from
// its own clock a moment before.
const (
	minCredentialTTL = 300 * time.Second
	maxCredentialTTL = 3600 * time.Second
	expireTimeSlack  = 5 * time.Second
)

// servePostgresCredential mints a credential for an Autoscaling endpoint.
// The requested ttl (or expire_time) must lie within 300 s..3600 s as in the
// API; the credential then lives for the shorter of that and the lifetime of
// SetCredentialLifetime, so that tests can use credentials of seconds.
func (w *Workspace) servePostgresCredential(rw http.ResponseWriter, r *http.Request, identity string) {
	var req postgres.GenerateDatabaseCredentialRequest
	if !wsDecodeJSON(rw, r, &req) {
		return
	}
	if req.Endpoint == "" {
		wsWriteError(rw, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "endpoint is required")
		return
	}
	ttl, ok := w.requestedTTL(rw, req)
	if !ok {
		return
	}
	if _, ok := w.endpoint(rw, req.Endpoint); !ok {
		return
	}
	c, ok := w.mint(rw, r, identity, endpointTarget(req.Endpoint), ttl, requestClaims(req.Claims))
	if !ok {
		return
	}
	expiry, own := w.writtenExpiry(c.expiry)
	if own {
		wsWriteJSON(rw, postgres.DatabaseCredential{Token: c.token, ExpireTime: sdktime.New(c.expiry)})
		return
	}
	// The SDK's type writes only its own form of a timestamp.
	wsWriteJSON(rw, struct {
		Token      string `json:"token"`
		ExpireTime string `json:"expire_time,omitempty"`
	}{c.token, expiry})
}

// requestedTTL checks the lifetime a credential request asks for (0: none),
// or answers 400.
func (w *Workspace) requestedTTL(rw http.ResponseWriter, req postgres.GenerateDatabaseCredentialRequest) (time.Duration, bool) {
	var ttl time.Duration
	lo, hi := minCredentialTTL, maxCredentialTTL
	switch {
	case req.Ttl != nil && req.ExpireTime != nil:
		wsWriteError(rw, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "only one of ttl and expire_time may be set")
		return 0, false
	case req.Ttl != nil:
		ttl = req.Ttl.AsDuration()
	case req.ExpireTime != nil:
		ttl = req.ExpireTime.AsTime().Sub(w.store.now())
		lo, hi = lo-expireTimeSlack, hi+expireTimeSlack
	default:
		return 0, true
	}
	if ttl < lo || ttl > hi {
		wsWriteError(rw, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "the credential lifetime must be between 300 and 3600 seconds")
		return 0, false
	}
	return ttl, true
}

// serveEndpoint answers an endpoint lookup.
func (w *Workspace) serveEndpoint(rw http.ResponseWriter, r *http.Request, _ string) {
	path := fmt.Sprintf("projects/%s/branches/%s/endpoints/%s", r.PathValue("project"), r.PathValue("branch"), r.PathValue("endpoint"))
	if ep, ok := w.endpoint(rw, path); ok {
		wsWriteJSON(rw, wsEndpointJSON(ep))
	}
}

// serveEndpoints lists the endpoints of a branch, a page at a time.
func (w *Workspace) serveEndpoints(rw http.ResponseWriter, r *http.Request, identity string) {
	project, branch := r.PathValue("project"), r.PathValue("branch")
	if w.listingDenied(rw, project, identity) {
		return
	}
	var all []postgres.Endpoint
	for _, ep := range w.sortedEndpoints() {
		if p, b, _, _ := parseEndpointPath(ep.Path); p == project && b == branch {
			all = append(all, wsEndpointJSON(ep))
		}
	}
	if len(all) == 0 {
		wsWriteError(rw, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", fmt.Sprintf("Branch 'projects/%s/branches/%s' does not exist.", project, branch))
		return
	}
	page, next, ok := wsPage(rw, r, all)
	if ok {
		wsWriteJSON(rw, postgres.ListEndpointsResponse{Endpoints: page, NextPageToken: next})
	}
}

// serveBranch answers a branch lookup; a branch exists while one of its
// endpoints does.
func (w *Workspace) serveBranch(rw http.ResponseWriter, r *http.Request, _ string) {
	project, branch := r.PathValue("project"), r.PathValue("branch")
	if !slices.Contains(w.branchesOf(project), branch) {
		wsWriteError(rw, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", fmt.Sprintf("Branch 'projects/%s/branches/%s' does not exist.", project, branch))
		return
	}
	wsWriteJSON(rw, wsBranchJSON(project, branch))
}

// serveBranches lists the branches of a project, a page at a time.
func (w *Workspace) serveBranches(rw http.ResponseWriter, r *http.Request, identity string) {
	project := r.PathValue("project")
	if w.listingDenied(rw, project, identity) {
		return
	}
	names := w.branchesOf(project)
	if len(names) == 0 {
		wsWriteError(rw, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", fmt.Sprintf("Project 'projects/%s' does not exist.", project))
		return
	}
	all := make([]postgres.Branch, len(names))
	for i, b := range names {
		all[i] = wsBranchJSON(project, b)
	}
	page, next, ok := wsPage(rw, r, all)
	if ok {
		wsWriteJSON(rw, postgres.ListBranchesResponse{Branches: page, NextPageToken: next})
	}
}

// serveProject answers a project lookup; a project exists while one of its
// endpoints does.
func (w *Workspace) serveProject(rw http.ResponseWriter, r *http.Request, _ string) {
	project := r.PathValue("project")
	if len(w.branchesOf(project)) == 0 {
		wsWriteError(rw, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", fmt.Sprintf("Project 'projects/%s' does not exist.", project))
		return
	}
	wsWriteJSON(rw, wsProjectJSON(project))
}

// serveProjects lists projects, a page at a time.
func (w *Workspace) serveProjects(rw http.ResponseWriter, r *http.Request, _ string) {
	var all []postgres.Project
	for _, ep := range w.sortedEndpoints() {
		p, _, _, _ := parseEndpointPath(ep.Path)
		if n := len(all); n == 0 || all[n-1].ProjectId != p {
			all = append(all, wsProjectJSON(p))
		}
	}
	page, next, ok := wsPage(rw, r, all)
	if ok {
		wsWriteJSON(rw, postgres.ListProjectsResponse{Projects: page, NextPageToken: next})
	}
}

// endpoint finds the endpoint at path, or answers 404.
func (w *Workspace) endpoint(rw http.ResponseWriter, path string) (Endpoint, bool) {
	return wsLookup(w, rw, w.endpoints, path, fmt.Sprintf("Endpoint '%s' does not exist.", path))
}

// sortedEndpoints returns the endpoints ordered by path, so that those of one
// project, then of one branch, are adjacent.
func (w *Workspace) sortedEndpoints() []Endpoint {
	w.mu.Lock()
	defer w.mu.Unlock()
	paths := slices.Sorted(maps.Keys(w.endpoints))
	eps := make([]Endpoint, len(paths))
	for i, p := range paths {
		eps[i] = w.endpoints[p]
	}
	return eps
}

// branchesOf returns the sorted branch ids of project.
func (w *Workspace) branchesOf(project string) []string {
	var branches []string
	for _, ep := range w.sortedEndpoints() {
		p, b, _, _ := parseEndpointPath(ep.Path)
		if p == project && (len(branches) == 0 || branches[len(branches)-1] != b) {
			branches = append(branches, b)
		}
	}
	return branches
}

func wsProjectJSON(project string) postgres.Project {
	name := "projects/" + project
	return postgres.Project{
		Name:      name,
		ProjectId: project,
		Uid:       wsStableID(name),
		Status:    &postgres.ProjectStatus{ProjectId: project, DisplayName: project, PgVersion: 16},
	}
}

func wsBranchJSON(project, branch string) postgres.Branch {
	parent := "projects/" + project
	name := parent + "/branches/" + branch
	return postgres.Branch{
		Name:     name,
		BranchId: branch,
		Parent:   parent,
		Uid:      wsStableID(name),
		Status:   &postgres.BranchStatus{BranchId: branch, CurrentState: postgres.BranchStatusStateReady},
	}
}

func wsEndpointJSON(ep Endpoint) postgres.Endpoint {
	project, branch, id, _ := parseEndpointPath(ep.Path)
	return postgres.Endpoint{
		Name:       ep.Path,
		EndpointId: id,
		Parent:     "projects/" + project + "/branches/" + branch,
		Uid:        wsStableID(ep.Path),
		Spec:       &postgres.EndpointSpec{EndpointType: postgres.EndpointTypeEndpointTypeReadWrite, Disabled: ep.Disabled},
		Status: &postgres.EndpointStatus{
			EndpointId:   id,
			EndpointType: postgres.EndpointTypeEndpointTypeReadWrite,
			CurrentState: postgres.EndpointStatusState(ep.State),
			PendingState: postgres.EndpointStatusState(ep.PendingState),
			Disabled:     ep.Disabled,
			Hosts: &postgres.EndpointHosts{
				Host:                ep.Host,
				ReadOnlyHost:        ep.ReadOnlyHost,
				ReadWritePooledHost: ep.ReadWritePooledHost,
				ReadOnlyPooledHost:  ep.ReadOnlyPooledHost,
			},
		},
	}
}
