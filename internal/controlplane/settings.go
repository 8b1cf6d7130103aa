package controlplane

import (
	"fmt"
	"log/slog"
	"slices"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/config"
)

// AuthMode is how the driver logs in to the workspace. The values are the
// DSN's auth key.
type AuthMode string

// The login methods.
const (
	// AuthAuto is Databricks unified authentication: environment, profile,
	// Databricks CLI login, Databricks Apps.
	AuthAuto AuthMode = ""
	// AuthM2M is a service principal's OAuth client id and secret.
	AuthM2M AuthMode = "oauth-m2m"
	// AuthU2M is the person's own login: the Databricks CLI's cached login,
	// or an in-process browser login.
	AuthU2M AuthMode = "oauth-u2m"
	// AuthPAT is a personal access token.
	AuthPAT AuthMode = "pat"
	// AuthPassword is a native Postgres role. Nothing is minted; the
	// workspace is asked only for lookups, with unified authentication.
	AuthPassword AuthMode = "password"
)

// Settings say which workspace to ask and how to log in to it. Secrets in it
// never appear in String, GoString or LogValue.
type Settings struct {
	Workspace string   // workspace URL (DSN workspace)
	Profile   string   // profile in the Databricks config file (DSN profile)
	Auth      AuthMode // DSN auth

	ClientID     string // service principal for AuthM2M (DSN client_id)
	ClientSecret string // its secret (DSN client_secret)
	Token        string // personal access token for AuthPAT (DSN token)

	// SDKConfig is the user's own SDK configuration to start from. It is
	// copied, never changed; the fields above, when set, override it.
	SDKConfig *config.Config
	// Client is the user's own workspace client, used as it is. Of the
	// other fields only Auth, ClientID (for UserName with oauth-m2m) and
	// Logger then count.
	Client *databricks.WorkspaceClient

	// Browser opens the login page of the in-process oauth-u2m login. Nil
	// means: open the system browser when one can be (a display, or macOS or
	// Windows, and a terminal on standard input); otherwise there is no
	// in-process login.
	Browser func(url string) error
	// TokenCacheDir holds the in-process oauth-u2m login's refresh token, in
	// a file only its owner may read. Empty means a "lakebase" directory in
	// the user's configuration directory.
	TokenCacheDir string

	// Logger receives the SDK's warnings and this package's debug lines.
	// Nil means silence.
	Logger *slog.Logger

	// Failures, when set, keeps the last failed request that the SDK
	// retried, for errors that would otherwise say only that time ran out.
	Failures *Failures
}

// String describes the settings without their secrets.
func (s Settings) String() string {
	return fmt.Sprintf("Settings{Workspace:%q Profile:%q Auth:%q ClientID:%q ClientSecret:%s Token:%s}",
		s.Workspace, s.Profile, s.Auth, s.ClientID, hidden(s.ClientSecret), hidden(s.Token))
}

// GoString is String, so that %#v hides the secrets too.
func (s Settings) GoString() string { return s.String() }

// LogValue lets log/slog record the settings without their secrets.
func (s Settings) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("workspace", s.Workspace),
		slog.String("profile", s.Profile),
		slog.String("auth", string(s.Auth)),
		slog.String("client_id", s.ClientID),
		slog.String("client_secret", hidden(s.ClientSecret)),
		slog.String("token", hidden(s.Token)),
	)
}

// hidden stands in for a secret: it says whether one is set, nothing more.
func hidden(secret string) string {
	if secret == "" {
		return `""`
	}
	return "[redacted]"
}

// SDKAuthTypes are the Databricks SDK's other login methods, which the
// driver names by the SDK's own names and leaves to the SDK: it sets the
// configuration's auth type and nothing else, so that their settings come
// from the environment or the configuration file as the SDK reads them.
var SDKAuthTypes = []AuthMode{
	"azure-cli", "azure-client-secret", "azure-msi", "azure-devops-oidc",
	"github-oidc", "github-oidc-azure", "env-oidc", "file-oidc",
	"google-credentials", "google-id", "databricks-cli", "metadata-service",
}

// IsSDKAuthType reports whether m is one of SDKAuthTypes.
func IsSDKAuthType(m AuthMode) bool { return slices.Contains(SDKAuthTypes, m) }

// validate checks what can be checked before any configuration is loaded.
func (s Settings) validate() error {
	switch s.Auth {
	case AuthAuto, AuthM2M, AuthU2M, AuthPAT, AuthPassword:
	default:
		if !IsSDKAuthType(s.Auth) {
			return configError(fmt.Sprintf("auth=%q is not one of oauth-m2m, oauth-u2m, pat, password, or a Databricks SDK auth type", string(s.Auth)))
		}
	}
	if s.ClientSecret != "" && s.ClientID == "" {
		return configError("client_secret is set without client_id")
	}
	return nil
}

// checkLoaded checks the SDK configuration once the environment and the
// configuration file have filled it, before any request.
func checkLoaded(mode AuthMode, cfg *config.Config) error {
	switch {
	case cfg.Host == "" && cfg.Profile != "":
		return configError(fmt.Sprintf("no workspace: profile=%q gives no host (is it in the Databricks configuration file?)", cfg.Profile))
	case cfg.Host == "":
		return configError("no workspace: set workspace (or DATABRICKS_HOST, or a profile with a host)")
	}
	switch mode {
	case AuthM2M:
		if cfg.ClientID == "" || cfg.ClientSecret == "" {
			return configError("auth=oauth-m2m needs client_id and client_secret (or DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET)")
		}
	case AuthPAT:
		if cfg.Token == "" {
			return configError("auth=pat needs token (or DATABRICKS_TOKEN)")
		}
	}
	return nil
}
