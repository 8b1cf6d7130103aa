package lakebasetest

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/config"
	"github.com/databricks/databricks-sdk-go/config/experimental/auth"
	"github.com/databricks/databricks-sdk-go/credentials/u2m"
	"github.com/databricks/databricks-sdk-go/credentials/u2m/cache"
	"github.com/databricks/databricks-sdk-go/logger"
	"golang.org/x/oauth2"
)

// The SDK logs warnings to the standard logger by default; tests stay quiet.
func init() {
	logger.DefaultLogger = &logger.SimpleLogger{Level: logger.LevelError + 1}
}

// The identities and resources every workspace test starts with.
const (
	wsSPID       = "5e1a2b3c-0000-4000-8000-00000000a001"
	wsSPSecret   = "sp-secret-value"
	wsUserEmail  = "ada@example.com"
	wsUserPAT    = "dapi-user-pat-value"
	wsUserRT     = "user-refresh-token-value"
	wsInstance   = "orders-db"
	wsEndpoint   = "projects/shop/branches/main/endpoints/primary"
	wsEndpoint2  = "projects/shop/branches/dev/endpoints/primary"
	wsRWHost     = "127.0.0.1:15432"
	wsROHost     = "127.0.0.1:15433"
	wsPooledHost = "127.0.0.1:15434"
)

// wsStart starts a workspace with a service principal, a user, one instance
// and two endpoints, closed when the test ends.
func wsStart(t *testing.T) (*Workspace, *credentialStore) {
	t.Helper()
	return wsStartClock(t, nil)
}

// wsStartClock is wsStart with the workspace and its store reading now.
func wsStartClock(t *testing.T, now func() time.Time) (*Workspace, *credentialStore) {
	t.Helper()
	store := newCredentialStore(now)
	w := newWorkspace(store)
	t.Cleanup(w.Close)
	wsMust(t, w.AddServicePrincipal(ServicePrincipal{ApplicationID: wsSPID, Secret: wsSPSecret, DisplayName: "orders-app"}))
	wsMust(t, w.AddUser(User{Email: wsUserEmail, Token: wsUserPAT, RefreshToken: wsUserRT}))
	wsMust(t, w.AddInstance(Instance{Name: wsInstance, ReadWriteHost: wsRWHost, ReadOnlyHost: wsROHost, NativeLogin: true}))
	wsMust(t, w.AddEndpoint(Endpoint{Path: wsEndpoint, Host: wsRWHost, ReadWritePooledHost: wsPooledHost}))
	wsMust(t, w.AddEndpoint(Endpoint{Path: wsEndpoint2, State: "IDLE", Host: wsROHost}))
	return w, store
}

func wsMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wsNoLoader keeps the SDK from reading DATABRICKS_* variables and
// ~/.databrickscfg, so that tests see only what they configure.
type wsNoLoader struct{}

func (wsNoLoader) Name() string                   { return "none" }
func (wsNoLoader) Configure(*config.Config) error { return nil }

// wsClient returns a real SDK client of w configured by cfg, with short
// timeouts and no rate limit to speak of.
func wsClient(t *testing.T, w *Workspace, cfg *databricks.Config) *databricks.WorkspaceClient {
	t.Helper()
	cfg.Host = w.URL()
	cfg.Loaders = []config.Loader{wsNoLoader{}}
	if cfg.RetryTimeoutSeconds == 0 {
		cfg.RetryTimeoutSeconds = 10
	}
	cfg.HTTPTimeoutSeconds = 10
	cfg.RateLimitPerSecond = 1000
	c, err := databricks.NewWorkspaceClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wsM2M, wsPAT and wsRefreshLogin are the three ways of logging in.
func wsM2M() *databricks.Config {
	return &databricks.Config{AuthType: "oauth-m2m", ClientID: wsSPID, ClientSecret: wsSPSecret}
}

func wsPAT(token string) *databricks.Config {
	return &databricks.Config{AuthType: "pat", Token: token}
}

// wsRefreshLogin logs in as the SDK's u2m persistent auth does with a cached
// login: the token cache holds only a refresh token, so the first request
// exchanges it at the token route.
func wsRefreshLogin(t *testing.T, w *Workspace, refreshToken string) *databricks.Config {
	t.Helper()
	arg, err := u2m.NewBasicWorkspaceOAuthArgument(w.URL())
	wsMust(t, err)
	tc := cache.NewInMemoryTokenCache()
	wsMust(t, tc.Store(arg.GetCacheKey(), &oauth2.Token{RefreshToken: refreshToken, Expiry: time.Now().Add(-time.Minute)}))
	pa, err := u2m.NewPersistentAuth(t.Context(), u2m.WithOAuthArgument(arg), u2m.WithTokenCache(tc))
	wsMust(t, err)
	return wsTokenSourceConfig(pa)
}

// wsTokenSourceConfig configures the SDK to authenticate with pa's tokens.
func wsTokenSourceConfig(pa *u2m.PersistentAuth) *databricks.Config {
	ts := auth.TokenSourceFn(func(context.Context) (*oauth2.Token, error) { return pa.Token() })
	return &databricks.Config{Credentials: config.NewTokenSourceStrategy("oauth-u2m", ts)}
}

// wsFreePort returns a TCP port that was free a moment ago.
func wsFreePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	wsMust(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
