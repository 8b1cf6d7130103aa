package lakebase

import (
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/databricks/databricks-sdk-go"
	sdkconfig "github.com/databricks/databricks-sdk-go/config"
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
	// time.Now. A test seam only (see fault_export_test.go): it lets a test jump the
	// clock as a laptop waking from sleep does.
	now func() time.Time

	// userFromEnv: User came from PGUSER, not from the DSN or the caller.
	userFromEnv bool
}

// ParseDSN parses a DSN in either spelling: a URL (lakebase://, postgres:// or
// postgresql://) or libpq's key/value form. It reads no environment: that is
// NewConnector's job, so that a parsed Config says exactly what the DSN said.
// An empty DSN gives an empty Config, which is valid.
func ParseDSN(dsn string) (*Config, error) {
	pairs, err := splitDSN(dsn)
	if err != nil {
		return nil, err
	}
	cfg := &Config{}
	for _, p := range pairs {
		if err := cfg.set(p.key, p.value); err != nil {
			return nil, err
		}
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// FormatDSN writes the Config as a key/value DSN that ParseDSN reads back to
// an equal Config, secrets included. Fields that a DSN cannot hold are left
// out.
func (c *Config) FormatDSN() string { return c.format(false) }

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

// format writes every set key, redacting secrets when asked.
func (c *Config) format(redact bool) string {
	var b strings.Builder
	c.each(func(key, value string, secret bool) {
		if redact && secret {
			value = redacted
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(key)
		b.WriteByte('=')
		b.WriteString(quoteValue(value))
	})
	return b.String()
}

// each calls fn for every key that is set, lakebase keys first in table order,
// then Params sorted by key.
func (c *Config) each(fn func(key, value string, secret bool)) {
	for _, k := range dsnKeys {
		if v := k.get(c); v != "" {
			fn(k.name, v, k.secret)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(c.Params)) {
		fn(k, c.Params[k], secretParams[k])
	}
}

// clone returns a deep copy, so that a Connector never shares a map with its
// caller.
func (c *Config) clone() *Config {
	cp := *c
	cp.Params = maps.Clone(c.Params)
	return &cp
}
