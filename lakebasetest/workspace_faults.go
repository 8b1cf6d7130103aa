package lakebasetest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// route names a route of the fake workspace, for Fail and Requests.
type route string

// The fake workspace's routes; the Workspace's documentation lists them.
const (
	routeHostMetadata       route = "host-metadata"       // GET /.well-known/databricks-config
	routeOIDCDiscovery      route = "oidc-discovery"      // GET /oidc/.well-known/oauth-authorization-server
	routeToken              route = "token"               // POST /oidc/v1/token
	routeAuthorize          route = "authorize"           // GET /oidc/v1/authorize
	routeMe                 route = "me"                  // GET /api/2.0/preview/scim/v2/Me
	routeDatabaseCredential route = "database-credential" // POST /api/2.0/database/credentials
	routeInstance           route = "instance"            // GET /api/2.0/database/instances/{name}
	routeInstances          route = "instances"           // GET /api/2.0/database/instances
	routePostgresCredential route = "postgres-credential" // POST /api/2.0/postgres/credentials
	routeProjects           route = "projects"            // GET /api/2.0/postgres/projects
	routeProject            route = "project"             // GET /api/2.0/postgres/projects/P
	routeBranches           route = "branches"            // GET /api/2.0/postgres/projects/P/branches
	routeBranch             route = "branch"              // GET /api/2.0/postgres/projects/P/branches/B
	routeEndpoints          route = "endpoints"           // GET /api/2.0/postgres/projects/P/branches/B/endpoints
	routeEndpoint           route = "endpoint"            // GET /api/2.0/postgres/projects/P/branches/B/endpoints/E
)

// allRoutes are the routes Fail and Requests know.
var allRoutes = []route{
	routeHostMetadata, routeOIDCDiscovery, routeToken, routeAuthorize, routeMe,
	routeDatabaseCredential, routeInstance, routeInstances,
	routePostgresCredential, routeProjects, routeProject, routeBranches, routeBranch, routeEndpoints, routeEndpoint,
}

// Fault makes a route misbehave. The route first waits Delay (a slow
// server); then, if Status is set, it answers with that status and a
// Databricks error body instead of doing its work. The token route answers
// with an OAuth error body ({"error", "error_description"}) instead. A fault
// applies before the route looks at the caller's token.
type Fault struct {
	// Status is the HTTP status to answer with; 0 only delays the request.
	Status int
	// ErrorCode is the body's error_code; empty picks the usual code for
	// Status (403 PERMISSION_DENIED, 404 RESOURCE_DOES_NOT_EXIST,
	// 429 REQUEST_LIMIT_EXCEEDED, ...).
	ErrorCode string
	// Message is the body's message; empty uses the status text.
	Message string
	// RetryAfter, when positive, is sent as a Retry-After header in whole
	// seconds, rounded up.
	RetryAfter time.Duration
	// Delay is how long the route waits before answering.
	Delay time.Duration
	// Times is how many requests the fault affects; 0 means until
	// ClearFaults.
	Times int
}

type wsFaultState struct {
	fault Fault
	left  int // requests still affected when fault.Times > 0
}

// SetLatency makes every request to the workspace wait d before it is
// served, as a workspace one round trip of d away would: logins, lookups,
// SCIM Me and mints alike (a route's Fault.Delay and the mint latency come
// on top). Zero, the default, serves at once.
func (w *Workspace) SetLatency(d time.Duration) {
	w.mu.Lock()
	w.latency = max(d, 0)
	w.mu.Unlock()
}

// Fail makes route (one of those the Workspace's documentation lists)
// misbehave as f says, replacing the route's earlier fault. It panics on
// an unknown route.
func (w *Workspace) Fail(route string, f Fault) {
	r := knownRoute("Fail", route)
	w.mu.Lock()
	w.faults[r] = &wsFaultState{fault: f, left: f.Times}
	w.mu.Unlock()
}

// knownRoute returns name as a route, and panics, naming method, if the
// workspace has no such route.
func knownRoute(method, name string) route {
	if !slices.Contains(allRoutes, route(name)) {
		panic(fmt.Sprintf("lakebasetest: Workspace.%s: unknown route %q", method, name))
	}
	return route(name)
}

// ClearFaults makes every route behave again.
func (w *Workspace) ClearFaults() {
	w.mu.Lock()
	clear(w.faults)
	w.mu.Unlock()
}

// Requests is how many requests route has received, faulted ones included.
// It panics on an unknown route.
func (w *Workspace) Requests(route string) int {
	r := knownRoute("Requests", route)
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.requests[r]
}

// intercept counts a request to route and applies the route's fault; it
// reports whether the fault answered the request.
func (w *Workspace) intercept(rw http.ResponseWriter, r *http.Request, route route) bool {
	w.mu.Lock()
	w.requests[route]++
	latency := w.latency
	var f Fault
	if st, ok := w.faults[route]; ok {
		f = st.fault
		if f.Times > 0 {
			st.left--
			if st.left <= 0 {
				delete(w.faults, route)
			}
		}
	}
	w.mu.Unlock()

	delay := f.Delay + latency
	if delay > 0 {
		readBody(r)
	}
	if !w.wait(r, delay) {
		wsWriteError(rw, http.StatusServiceUnavailable, "TEMPORARILY_UNAVAILABLE", "request abandoned")
		return true
	}
	if f.Status == 0 {
		return false
	}
	if f.RetryAfter > 0 {
		secs := int64((f.RetryAfter + time.Second - 1) / time.Second)
		rw.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	code, msg := f.ErrorCode, f.Message
	if code == "" {
		code = wsDefaultErrorCode(f.Status)
	}
	if msg == "" {
		msg = http.StatusText(f.Status)
	}
	if route == routeToken {
		wsWriteOAuthError(rw, f.Status, code, msg)
	} else {
		wsWriteError(rw, f.Status, code, msg)
	}
	return true
}

// wsDefaultErrorCode is the error_code Databricks usually sends with status.
func wsDefaultErrorCode(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "INVALID_PARAMETER_VALUE"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "RESOURCE_DOES_NOT_EXIST"
	case http.StatusConflict:
		return "RESOURCE_CONFLICT"
	case http.StatusTooManyRequests:
		return "REQUEST_LIMIT_EXCEEDED"
	case http.StatusServiceUnavailable:
		return "TEMPORARILY_UNAVAILABLE"
	case http.StatusGatewayTimeout:
		return "DEADLINE_EXCEEDED"
	}
	if status >= 500 {
		return "INTERNAL_ERROR"
	}
	return "BAD_REQUEST"
}

// readBody reads r's body ahead and puts it back, so that the server
// watches the connection while the request waits: net/http notices that a
// client went away only once the body has been read, and a delayed request
// would otherwise wait its full Delay for a client that gave up.
func readBody(r *http.Request) {
	if r.Body == nil || r.Body == http.NoBody {
		return
	}
	body, err := io.ReadAll(r.Body)
	_ = r.Body.Close()
	if err != nil {
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
}
