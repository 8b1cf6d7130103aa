package lakebasetest

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// Defaults of a new Workspace.
const (
	defaultCredentialLifetime = time.Hour
	defaultOAuthTokenLifetime = time.Hour
	authorizationCodeLifetime = 5 * time.Minute
)

// Workspace is a fake Databricks workspace on 127.0.0.1 that the real
// databricks-sdk-go client accepts unchanged. It serves host metadata and OIDC
// discovery, the OAuth token and authorize endpoints (client credentials with
// HTTP Basic, refresh token, authorization code with PKCE), SCIM Me, and the
// Lakebase APIs of both products: Provisioned instances and their
// credentials, and Autoscaling projects, branches, endpoints and their
// credentials.
//
// Tests register the identities and resources it knows, change their state
// while it runs, make any route fail, and read counters of requests and
// credential mints. Every method is safe for concurrent use.
//
// Fail and Requests name a route as one of these strings:
//
//	host-metadata        GET  /.well-known/databricks-config
//	oidc-discovery       GET  /oidc/.well-known/oauth-authorization-server
//	token                POST /oidc/v1/token
//	authorize            GET  /oidc/v1/authorize
//	me                   GET  /api/2.0/preview/scim/v2/Me
//	database-credential  POST /api/2.0/database/credentials
//	instances            GET  /api/2.0/database/instances
//	instance             GET  /api/2.0/database/instances/{name}
//	postgres-credential  POST /api/2.0/postgres/credentials
//	projects             GET  /api/2.0/postgres/projects
//	project              GET  /api/2.0/postgres/projects/P
//	branches             GET  /api/2.0/postgres/projects/P/branches
//	branch               GET  /api/2.0/postgres/projects/P/branches/B
//	endpoints            GET  /api/2.0/postgres/projects/P/branches/B/endpoints
//	endpoint             GET  /api/2.0/postgres/projects/P/branches/B/endpoints/E
type Workspace struct {
	store *credentialStore
	srv   *httptest.Server
	url   string

	done      chan struct{} // closed by Close: ends delays and browser visits
	closeOnce sync.Once
	browsers  sync.WaitGroup

	mu            sync.Mutex
	users         map[string]User             // by e-mail
	sps           map[string]ServicePrincipal // by application id
	pats          map[string]string           // personal access token -> e-mail
	refreshTokens map[string]string           // refresh token -> e-mail
	accessTokens  map[string]wsAccessToken
	codes         map[string]wsAuthCode
	instances     map[string]Instance
	endpoints     map[string]Endpoint
	denied        map[wsGrant]bool
	faults        map[route]*wsFaultState
	requests      map[route]int
	mints         map[wsGrant]int
	browserUser   string
	browserErr    error
	credLifetime  time.Duration
	tokenLifetime time.Duration
	mintLatency   time.Duration
	tableGrants   map[string]map[string]bool // identity -> the UC tables it may claim: GrantTable
	latency       time.Duration              // before every request: SetLatency
	expiryFormat  func(time.Time) string     // nil: as the service writes it
	cloud         string                     // host metadata's cloud
}

// wsGrant names an identity and a credential target (instanceTarget or
// endpointTarget).
type wsGrant struct{ identity, target string }

// NewWorkspace starts a fake workspace on its own, without a server or
// gateways, for tests of code that talks to the Databricks API; call Close
// when done. Its credentials log in nowhere: use New for a whole Lakebase.
func NewWorkspace() *Workspace { return newWorkspace(newCredentialStore(nil)) }

// newWorkspace starts a workspace that records the credentials it mints in
// store and reads the time from store's clock.
func newWorkspace(store *credentialStore) *Workspace {
	w := &Workspace{
		store:         store,
		done:          make(chan struct{}),
		users:         make(map[string]User),
		sps:           make(map[string]ServicePrincipal),
		pats:          make(map[string]string),
		refreshTokens: make(map[string]string),
		accessTokens:  make(map[string]wsAccessToken),
		codes:         make(map[string]wsAuthCode),
		instances:     make(map[string]Instance),
		endpoints:     make(map[string]Endpoint),
		denied:        make(map[wsGrant]bool),
		tableGrants:   make(map[string]map[string]bool),
		faults:        make(map[route]*wsFaultState),
		requests:      make(map[route]int),
		mints:         make(map[wsGrant]int),
		credLifetime:  defaultCredentialLifetime,
		tokenLifetime: defaultOAuthTokenLifetime,
		cloud:         "AWS",
	}
	w.srv = httptest.NewServer(w.routes())
	w.url = w.srv.URL
	return w
}

// URL is the workspace's address, "http://127.0.0.1:port": the SDK's Host.
func (w *Workspace) URL() string { return w.url }

// Close stops the server, ending delays and browser visits in progress, and
// returns once no goroutine of the workspace is left. It is safe to call more
// than once.
func (w *Workspace) Close() {
	w.closeOnce.Do(func() {
		w.mu.Lock() // OpenBrowser starts visits under mu only while done is open
		close(w.done)
		w.mu.Unlock()
		w.browsers.Wait()
		w.srv.Close()
	})
}

// routes maps every path the workspace serves to its handler.
func (w *Workspace) routes() http.Handler {
	mux := http.NewServeMux()
	w.handle(mux, "GET /.well-known/databricks-config", routeHostMetadata, w.serveHostMetadata)
	w.handle(mux, "GET /oidc/.well-known/oauth-authorization-server", routeOIDCDiscovery, w.serveDiscovery)
	w.handle(mux, "POST /oidc/v1/token", routeToken, w.serveToken)
	w.handle(mux, "GET /oidc/v1/authorize", routeAuthorize, w.serveAuthorize)
	w.handleAuth(mux, "GET /api/2.0/preview/scim/v2/Me", routeMe, w.serveMe)

	w.handleAuth(mux, "POST /api/2.0/database/credentials", routeDatabaseCredential, w.serveDatabaseCredential)
	w.handleAuth(mux, "GET /api/2.0/database/instances", routeInstances, w.serveInstances)
	w.handleAuth(mux, "GET /api/2.0/database/instances/{name}", routeInstance, w.serveInstance)

	w.handleAuth(mux, "POST /api/2.0/postgres/credentials", routePostgresCredential, w.servePostgresCredential)
	w.handleAuth(mux, "GET /api/2.0/postgres/projects", routeProjects, w.serveProjects)
	w.handleAuth(mux, "GET /api/2.0/postgres/projects/{project}", routeProject, w.serveProject)
	w.handleAuth(mux, "GET /api/2.0/postgres/projects/{project}/branches", routeBranches, w.serveBranches)
	w.handleAuth(mux, "GET /api/2.0/postgres/projects/{project}/branches/{branch}", routeBranch, w.serveBranch)
	w.handleAuth(mux, "GET /api/2.0/postgres/projects/{project}/branches/{branch}/endpoints", routeEndpoints, w.serveEndpoints)
	w.handleAuth(mux, "GET /api/2.0/postgres/projects/{project}/branches/{branch}/endpoints/{endpoint}", routeEndpoint, w.serveEndpoint)

	mux.HandleFunc("/", func(rw http.ResponseWriter, r *http.Request) {
		wsWriteError(rw, http.StatusNotFound, "ENDPOINT_NOT_FOUND", "No API found for '"+r.Method+" "+r.URL.Path+"'")
	})
	return mux
}

// handle serves an unauthenticated route: it counts the request and applies
// the route's fault, if any, before h.
func (w *Workspace) handle(mux *http.ServeMux, pattern string, route route, h http.HandlerFunc) {
	mux.HandleFunc(pattern, func(rw http.ResponseWriter, r *http.Request) {
		if w.intercept(rw, r, route) {
			return
		}
		h(rw, r)
	})
}

// handleAuth serves a route that needs a bearer token: after counting and
// faults, it passes h the caller's identity (a user's e-mail or a service
// principal's application id), or answers 401.
func (w *Workspace) handleAuth(mux *http.ServeMux, pattern string, route route, h func(http.ResponseWriter, *http.Request, string)) {
	w.handle(mux, pattern, route, func(rw http.ResponseWriter, r *http.Request) {
		identity, ok := w.authenticate(rw, r)
		if !ok {
			return
		}
		h(rw, r, identity)
	})
}

// wait sleeps for d unless the request ends or the workspace closes first;
// it reports whether the full time passed.
func (w *Workspace) wait(r *http.Request, d time.Duration) bool {
	return sleep(d, r.Context().Done(), w.done)
}
