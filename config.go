package lakebase

import (
	"fmt"
	"log/slog"
	"maps"
	"os/user"
	"slices"
	"strings"
	"time"

	"github.com/databricks/databricks-sdk-go"
	sdkconfig "github.com/databricks/databricks-sdk-go/config"
	"github.com/lakebase-go/lakebase/internal/controlplane"
	"github.com/lakebase-go/lakebase/internal/pqsession"
	"github.com/lib/pq"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// AuthMode says how the driver obtains the Postgres password.
type AuthMode string

// The auth modes, as spelt in the DSN's auth key.
const (
	// AuthAutomatic (the key unset) is AuthPassword when a password is given,
	// and otherwise Databricks unified authentication: environment, profile,
	// Databricks CLI login, Databricks Apps.
	AuthAutomatic AuthMode = ""
	// AuthOAuthM2M logs in as a service principal with its client id and secret.
	AuthOAuthM2M AuthMode = "oauth-m2m"
	// AuthOAuthU2M logs in as a person: the Databricks CLI's cached login, or
	// an in-process browser login.
	AuthOAuthU2M AuthMode = "oauth-u2m"
	// AuthPAT logs in with a personal access token.
	AuthPAT AuthMode = "pat"
	// AuthPassword logs in as a native Postgres role with its password; no
	// credential is minted.
	AuthPassword AuthMode = "password"
)

// Besides the modes above, an AuthMode may be any other login method of the
// Databricks SDK, by the SDK's name: azure-cli, azure-client-secret,
// azure-msi, azure-devops-oidc, github-oidc, github-oidc-azure, env-oidc,
// file-oidc, google-credentials, google-id, databricks-cli or
// metadata-service. The driver passes it to the SDK as the auth type, which
// reads its settings (ARM_CLIENT_ID, GOOGLE_CREDENTIALS, ...) from the
// environment or the profile, and mints credentials of that identity.

// Defaults that apply when neither the DSN nor the environment names a value.
const (
	DefaultDBName  = "databricks_postgres"
	DefaultSSLMode = "require"
	DefaultPort    = 5432
)

// The limits of a database/sql connection's age and idleness when the
// Config leaves them zero (see Config.ConnMaxLifetime and ConnMaxIdleTime),
// well inside Lakebase's own: it closes connections idle for 24 hours, and
// may close any connection older than 3 days.
const (
	DefaultConnMaxLifetime = 24 * time.Hour
	DefaultConnMaxIdleTime = time.Hour
)

// NeverRetire, as Config.ConnMaxLifetime or ConnMaxIdleTime, turns that
// retirement off, as 0 does in a DSN. Any negative value means the same.
const NeverRetire time.Duration = -1

// Config is everything the driver needs to open connections. ParseDSN fills
// it from a DSN; a program may also build one and pass it to NewConnector.
// The fields that a DSN cannot hold (TokenSource, Logger, the SDK client) are
// set in code.
//
// A Config's String, GoString and LogValue never show a secret (Password,
// ClientSecret, AccessToken); FormatDSN is the one place that writes them.
type Config struct {
	// Instance is a Provisioned instance name; its host is looked up.
	Instance string
	// Endpoint is an Autoscaling endpoint,
	// projects/P/branches/B/endpoints/E; its host is looked up.
	Endpoint string
	// Workspace is the Databricks workspace URL.
	Workspace string
	// Profile is a profile in ~/.databrickscfg.
	Profile string
	// Auth is the auth mode.
	Auth AuthMode
	// ClientID and ClientSecret are a service principal's, for AuthOAuthM2M.
	ClientID     string
	ClientSecret string
	// AccessToken is a personal access token, for AuthPAT (DSN key token).
	AccessToken string
	// ReadOnly selects the read-only host of the instance or endpoint.
	ReadOnly bool
	// Pooled selects the pooled (PgBouncer, transaction mode) host of an
	// endpoint, which takes native passwords and OAuth roles alike. It also
	// sets lib/pq's binary_parameters, unless Params sets it: without it a
	// query with arguments takes two round trips that the pooler may give
	// to two server connections.
	Pooled bool
	// CredentialTTL is the lifetime asked of an Autoscaling credential
	// (DSN key ttl, 300s to 3600s); zero lets the server choose.
	CredentialTTL time.Duration
	// Claims scope the minted credential to Unity Catalog tables (DSN key
	// claims): the workspace checks the identity's permission on each, and
	// a session logged in with the credential gets the matching grants on
	// their Postgres counterparts (a synced table, say). Nil mints an
	// unscoped credential. Only a credential the driver mints takes claims.
	Claims []Claim
	// Host and Port override the looked-up host, or name the server when
	// nothing is looked up. Port zero means 5432.
	Host string
	Port int
	// User is the Postgres role; by default the identity's user name.
	User string
	// Password is a native Postgres role's password.
	Password string
	// DBName is the database; by default databricks_postgres.
	DBName string
	// SSLMode is lib/pq's sslmode; by default require.
	SSLMode string
	// ConnMaxLifetime bounds the age of a database/sql connection (DSN key
	// conn_max_lifetime). A connection past it is replaced before its next
	// request outside a transaction, with nothing sent, so that database/sql
	// runs the request on another connection: Lakebase may close any
	// connection older than 3 days, whatever it is doing. Each connection
	// draws its own lifetime, up to a tenth less, so that a pool's
	// connections do not all go at once. Zero means DefaultConnMaxLifetime;
	// NeverRetire (any negative value, 0 in a DSN) turns it off. Where lib/pq
	// runs TLS itself (sslmode allow or prefer, client certificates), no
	// connection retires. lakebasepgx pools have pgxpool's own
	// MaxConnLifetime instead.
	ConnMaxLifetime time.Duration
	// ConnMaxIdleTime bounds how long a database/sql connection may sit
	// idle (DSN key conn_max_idle_time): one idle for longer is replaced
	// before its next request outside a transaction, as ConnMaxLifetime
	// says. Lakebase closes connections idle for 24 hours. Zero means
	// DefaultConnMaxIdleTime; NeverRetire (any negative value, 0 in a DSN)
	// turns it off. lakebasepgx pools have pgxpool's own MaxConnIdleTime
	// instead.
	ConnMaxIdleTime time.Duration
	// Params holds every other key: lib/pq's own (sslrootcert,
	// connect_timeout, application_name, ...) and runtime parameters sent to
	// the server.
	Params map[string]string

	// TokenSource, when set, supplies the credential of every new
	// connection instead of the Databricks SDK. Tokens with an expiry are
	// cached like minted ones; tokens without one are asked for every time.
	TokenSource TokenSource
	// Logger receives the driver's own events (refreshes, failures), never a
	// secret. Nil means silence.
	Logger *slog.Logger
	// WorkspaceClient is a Databricks SDK client to reuse for lookups and
	// mints instead of building one.
	WorkspaceClient *databricks.WorkspaceClient
	// SDKConfig is a Databricks SDK configuration to start from instead of an
	// empty one. It is copied, never changed.
	SDKConfig *sdkconfig.Config
	// RefreshWindow is how long before expiry a background refresh starts;
	// zero means min(5 minutes, a quarter of the credential's lifetime).
	RefreshWindow time.Duration
	// SafetyMargin is how long a credential must still be valid to be used
	// for a new connection; zero means min(30 seconds, a tenth of its lifetime).
	SafetyMargin time.Duration
	// Browser opens the login page of the in-process oauth-u2m login. Nil
	// means the system browser, when one can be opened.
	Browser func(url string) error
	// TokenCacheDir holds the refresh token of the in-process oauth-u2m
	// login, in a file only its owner may read. Empty means a "lakebase"
	// directory in the user's configuration directory.
	TokenCacheDir string
	// MeterProvider receives the driver's OpenTelemetry metrics: credentials
	// minted, mint latency, the current credential's remaining lifetime,
	// failed refreshes, waits, login retries, lookups and connect latency
	// (see docs/OBSERVABILITY.md). Nil means none, unless GlobalTelemetry.
	MeterProvider metric.MeterProvider
	// TracerProvider receives a span per Connect, with a child per step
	// (resolve, identity, mint, dial, login) and per workspace call. Nil
	// means none, unless GlobalTelemetry. Spans never carry a secret, nor
	// the user unless TelemetryUser.
	TracerProvider trace.TracerProvider
	// GlobalTelemetry uses OpenTelemetry's global providers
	// (otel.GetMeterProvider, otel.GetTracerProvider) for whichever of
	// MeterProvider and TracerProvider is nil. Off by default: the driver
	// reports nothing unless asked.
	GlobalTelemetry bool
	// TelemetryUser puts the Postgres user on connect spans
	// (lakebase.user). Off by default, since a person's user name is an
	// e-mail address.
	TelemetryUser bool

	// now is the wall clock that judges credential expiry; nil means
	// time.Now. A test seam only (see export_test.go): it lets a test jump the
	// clock as a laptop waking from sleep does.
	now func() time.Time

	// userFromEnv: User came from PGUSER, not from the DSN or the caller.
	userFromEnv bool
}

// String describes the Config as a DSN with every secret redacted. Like
// GoString and LogValue it has a value receiver, so that a Config printed or
// logged by value is redacted too, not only a *Config.
func (c Config) String() string { return c.format(true) }

// GoString is used by %#v; it redacts secrets like String.
func (c Config) GoString() string { return "lakebase.Config(" + c.String() + ")" }

// LogValue lets log/slog record the Config with every secret redacted.
func (c Config) LogValue() slog.Value {
	var attrs []slog.Attr
	c.each(func(key, value string, secret bool) {
		if secret {
			value = redacted
		}
		attrs = append(attrs, slog.String(key, value))
	})
	return slog.GroupValue(attrs...)
}

// clone returns a deep copy, so that a Connector never shares a map with its
// caller.
func (c *Config) clone() *Config {
	cp := *c
	cp.Params = maps.Clone(c.Params)
	cp.Claims = slices.Clone(c.Claims)
	return &cp
}

// resolve returns the Config a connector runs with: a copy of c with what it
// leaves open filled from the environment and the defaults, checked once,
// and its auth mode decided.
func (c *Config) resolve(getenv func(string) string) (*Config, AuthMode, error) {
	r := c.clone()
	if err := r.applyEnvironment(getenv); err != nil {
		return nil, "", err
	}
	r.applyDefaults()
	if err := r.validate(); err != nil {
		return nil, "", err
	}
	mode, err := r.effectiveAuth()
	if err != nil {
		return nil, "", err
	}
	return r, mode, nil
}

// applyEnvironment fills what the Config leaves open from the environment,
// as DESIGN's DSN table says. The DSN always wins; PGHOST and PGPORT never
// replace a host that an instance or endpoint lookup will give.
func (c *Config) applyEnvironment(getenv func(string) string) error {
	fill := func(field *string, names ...string) {
		for _, name := range names {
			if *field == "" {
				*field = getenv(name)
			}
		}
	}
	if c.Instance == "" && c.Endpoint == "" {
		fill(&c.Instance, "LAKEBASE_INSTANCE")
		fill(&c.Endpoint, "LAKEBASE_ENDPOINT")
	}
	fill(&c.Workspace, "DATABRICKS_HOST")
	fill(&c.Profile, "DATABRICKS_CONFIG_PROFILE")
	if c.Auth == AuthAutomatic {
		mode, err := parseAuthMode(getenv("LAKEBASE_AUTH"))
		if err != nil {
			return envError("LAKEBASE_AUTH", err)
		}
		c.Auth = mode
	}
	fill(&c.ClientID, "DATABRICKS_CLIENT_ID")
	fill(&c.ClientSecret, "DATABRICKS_CLIENT_SECRET")
	fill(&c.AccessToken, "DATABRICKS_TOKEN")
	if c.Instance == "" && c.Endpoint == "" {
		fill(&c.Host, "PGHOST")
		if c.Port == 0 {
			if v := getenv("PGPORT"); v != "" {
				p, err := parsePort(v)
				if err != nil {
					return envError("PGPORT", err)
				}
				c.Port = p
			}
		}
	}
	if c.User == "" {
		c.User = getenv("PGUSER")
		c.userFromEnv = c.User != ""
	}
	if c.Auth == AuthAutomatic || c.Auth == AuthPassword {
		fill(&c.Password, "PGPASSWORD")
	}
	fill(&c.DBName, "PGDATABASE")
	fill(&c.SSLMode, "PGSSLMODE")
	if reason := checkSSLMode(c.SSLMode); reason != "" {
		return envError("PGSSLMODE", invalidKey("sslmode", "%s", reason))
	}
	if reason := checkEndpoint(c.Endpoint); reason != "" {
		return envError("LAKEBASE_ENDPOINT", invalidKey("endpoint", "%s", reason))
	}
	if reason := checkInstance(c.Instance); reason != "" {
		return envError("LAKEBASE_INSTANCE", invalidKey("instance", "%s", reason))
	}
	if reason := checkWorkspace(c.Workspace); reason != "" {
		return envError("DATABRICKS_HOST", invalidKey("workspace", "%s", reason))
	}
	return nil
}

// envError says that a value came from an environment variable.
func envError(name string, err error) error {
	if ce, ok := err.(*configError); ok {
		return &configError{key: ce.key, reason: ce.reason + " (from $" + name + ")"}
	}
	return err
}

// applyDefaults sets what neither the DSN nor the environment named.
func (c *Config) applyDefaults() {
	if c.DBName == "" {
		c.DBName = DefaultDBName
	}
	if c.SSLMode == "" {
		c.SSLMode = DefaultSSLMode
		if c.Params["sslrootcert"] == "system" {
			// The system's roots vouch for any name they signed: only a
			// check of the host name makes them mean anything, as libpq and
			// lib/pq say.
			c.SSLMode = "verify-full"
		}
	}
	if c.Port == 0 {
		c.Port = DefaultPort
	}
}

// validate checks the rules that bind keys together. It is run on a parsed
// DSN and again after the environment has filled the gaps.
func (c *Config) validate() error {
	switch {
	case c.Instance != "" && c.Endpoint != "":
		return invalidKey("instance", "cannot be combined with endpoint: name one target")
	case c.Pooled && c.Instance != "":
		return invalidKey("pooled", "pooled hosts belong to Autoscaling endpoints; an instance has none")
	case c.ClientSecret != "" && c.ClientID == "":
		return invalidKey("client_secret", "given without client_id")
	case c.CredentialTTL != 0 && c.Instance != "":
		return invalidKey("ttl", "applies to Autoscaling endpoints only, not to an instance")
	case c.CredentialTTL != 0 && !validTTL(c.CredentialTTL):
		return invalidKey("ttl", "want a whole number of seconds from 300s to 3600s")
	case c.Port < 0 || c.Port > 65535:
		return invalidKey("port", "want a number from 1 to 65535")
	case c.SafetyMargin < 0:
		return invalidKey("SafetyMargin", "must not be negative")
	case c.RefreshWindow < 0:
		return invalidKey("RefreshWindow", "must not be negative")
	case (c.Instance != "" || c.Endpoint != "") && c.Params["hostaddr"] != "":
		return invalidKey("hostaddr", "cannot redirect the host that %s names; set host instead", targetKey(c))
	}
	if err := c.validateClaims(); err != nil {
		return err
	}
	for key := range c.Params {
		if isDSNKey(key) {
			return invalidKey(key, "has a Config field of its own; set it there, not in Params")
		}
	}
	return nil
}

// Claim asks for one Unity Catalog permission on one table in a minted
// credential: Config.Claims, or an item PERMISSION_SET:TABLE of the DSN
// key claims.
type Claim struct {
	// PermissionSet is the permission asked, case-insensitive: today the
	// workspace knows only READ_ONLY.
	PermissionSet string
	// Table is the table's full Unity Catalog name, catalog.schema.table.
	Table string
}

// permissionSets are the permission sets a Claim may ask for, as the
// credential APIs spell them.
var permissionSets = []string{"READ_ONLY"}

// validateClaims checks Claims: a known permission set and a table named
// catalog.schema.table in each, and a mode that mints.
func (c *Config) validateClaims() error {
	for i, cl := range c.Claims {
		switch {
		case !slices.Contains(permissionSets, strings.ToUpper(cl.PermissionSet)):
			return invalidKey("claims", "item %d: unknown permission set; want one of %s", i+1, strings.ToLower(strings.Join(permissionSets, ", ")))
		case !validTableName(cl.Table):
			return invalidKey("claims", "item %d: want a Unity Catalog table name, catalog.schema.table", i+1)
		}
	}
	if len(c.Claims) > 0 && (c.Auth == AuthPassword || c.TokenSource != nil) {
		return invalidKey("claims", "scope a credential that the driver mints; a native password or a TokenSource's credential takes none")
	}
	return nil
}

// requestedClaims are Claims as a mint request carries them: one claim per
// permission set, in upper case, in the order the sets first appear, each
// with its tables in the order given. Nil without claims.
func (c *Config) requestedClaims() []controlplane.Claim {
	var out []controlplane.Claim
	for _, cl := range c.Claims {
		set := strings.ToUpper(cl.PermissionSet)
		i := slices.IndexFunc(out, func(r controlplane.Claim) bool { return r.PermissionSet == set })
		if i < 0 {
			out = append(out, controlplane.Claim{PermissionSet: set})
			i = len(out) - 1
		}
		out[i].Tables = append(out[i].Tables, cl.Table)
	}
	return out
}

// validTableName reports whether name is catalog.schema.table, each part
// non-empty and without spaces, commas or colons.
func validTableName(name string) bool {
	parts := strings.Split(name, ".")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		if p == "" || strings.ContainsAny(p, " \t\n,:") {
			return false
		}
	}
	return true
}

// targetKey names the key that names c's looked-up target.
func targetKey(c *Config) string {
	if c.Instance != "" {
		return "instance"
	}
	return "endpoint"
}

// effectiveAuth decides the auth mode when the Config leaves it automatic,
// and checks, before anything is looked up or minted, that the mode has what
// it needs.
func (c *Config) effectiveAuth() (AuthMode, error) {
	ownSDK := c.SDKConfig != nil || c.WorkspaceClient != nil
	switch {
	case c.Auth == AuthPassword && c.TokenSource != nil:
		return "", invalidKey("auth", "password login cannot use a TokenSource")
	case c.Auth == AuthOAuthM2M && !ownSDK && (c.ClientID == "" || c.ClientSecret == ""):
		return "", invalidKey("client_id", "auth=oauth-m2m needs client_id and client_secret (or DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET)")
	case c.Auth == AuthPAT && !ownSDK && c.AccessToken == "":
		return "", invalidKey("token", "auth=pat needs a personal access token (token or DATABRICKS_TOKEN)")
	case c.Auth != AuthAutomatic:
		return c.Auth, nil
	case c.Password != "" && c.TokenSource == nil:
		return AuthPassword, nil
	}
	return AuthAutomatic, nil
}

// controlSettings are the workspace login settings of a Config.
func (c *Config) controlSettings(mode AuthMode) controlplane.Settings {
	s := controlplane.Settings{
		Workspace:     c.Workspace,
		Profile:       c.Profile,
		Auth:          controlplane.AuthMode(mode),
		ClientID:      c.ClientID,
		ClientSecret:  c.ClientSecret,
		Token:         c.AccessToken,
		SDKConfig:     c.SDKConfig,
		Client:        c.WorkspaceClient,
		Browser:       c.Browser,
		TokenCacheDir: c.TokenCacheDir,
		Logger:        c.Logger,
	}
	if mode == AuthAutomatic && c.ClientID != "" && c.ClientSecret != "" {
		// The service principal is known: say so, so that the SDK does not
		// probe every login method in turn.
		s.Auth = controlplane.AuthM2M
	}
	return s
}

// osUserName is libpq's default role: the operating system user, or "" when
// it cannot be found.
func osUserName() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}

// retirement is when the connections of a connector with Config c retire.
func (c *Config) retirement() pqsession.Retirement {
	return pqsession.Retirement{
		MaxLifetime: connLimit(c.ConnMaxLifetime, DefaultConnMaxLifetime),
		MaxIdleTime: connLimit(c.ConnMaxIdleTime, DefaultConnMaxIdleTime),
	}
}

// connLimit is the limit that d, a Config's, means: zero the default,
// negative none (zero to pqsession).
func connLimit(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

// basePQConfig builds the lib/pq configuration that every connection of a
// connector starts from. Host, port, user and password are set per connection
// (they come from lookups and credentials), so they are left as placeholders
// here. lib/pq reads its own PG* environment variables for the keys the
// Config leaves open, as libpq does.
func basePQConfig(c *Config) (pq.Config, error) {
	var b strings.Builder
	write := func(key, value string) {
		b.WriteString(key)
		b.WriteByte('=')
		b.WriteString(quoteValue(value))
		b.WriteByte(' ')
	}
	// The placeholders keep lib/pq from looking up the operating system
	// user, which fails in some containers.
	write("host", "localhost")
	write("user", "lakebase")
	write("dbname", c.DBName)
	write("sslmode", c.SSLMode)
	for k, v := range c.Params {
		write(k, v)
	}
	if _, set := c.Params["binary_parameters"]; c.Pooled && !set {
		// Parse, bind and execute in one message, which a pooler in
		// transaction mode keeps on one server connection.
		write("binary_parameters", "yes")
	}
	pc, err := pq.NewConfig(b.String())
	if err != nil {
		// lib/pq's messages name the key and never a password: the base
		// configuration holds none.
		return pq.Config{}, fmt.Errorf("%w: lib/pq: %v", ErrInvalidDSN, strings.TrimPrefix(err.Error(), "pq: "))
	}
	return pc, nil
}
