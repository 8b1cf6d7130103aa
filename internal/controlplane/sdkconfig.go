package controlplane

import (
	"context"
	"log/slog"
	"reflect"
	"slices"
	"strings"

	"github.com/databricks/databricks-sdk-go/config"
)

// defaultRetryTimeoutSeconds bounds the SDK's retries in configurations
// this package builds, unless the user's SDK configuration sets a bound.
const defaultRetryTimeoutSeconds = 60

// newSDKConfig builds the SDK configuration for s: a copy of s.SDKConfig, or
// an empty one, with the settings that s names on top, and the login method
// fixed whenever s.Auth knows it, so that the SDK never probes.
func newSDKConfig(s Settings) *config.Config {
	cfg := copyConfig(s.SDKConfig)
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&cfg.Host, s.Workspace)
	set(&cfg.Profile, s.Profile)
	set(&cfg.ClientID, s.ClientID)
	set(&cfg.ClientSecret, s.ClientSecret)
	set(&cfg.Token, s.Token)
	// A strategy in the user's configuration would take precedence over
	// the auth type; the mode the DSN names wins.
	switch s.Auth {
	case AuthM2M:
		cfg.AuthType, cfg.Credentials = "oauth-m2m", nil
	case AuthPAT:
		cfg.AuthType, cfg.Credentials = "pat", nil
	default:
		if IsSDKAuthType(s.Auth) {
			cfg.AuthType, cfg.Credentials = string(s.Auth), nil
		}
	}
	// The SDK retries a failing request for five minutes by default, also
	// where no context of the caller ends it (logging in, refreshing a
	// token); a minute is plenty for a driver whose calls have deadlines.
	if cfg.RetryTimeoutSeconds == 0 {
		cfg.RetryTimeoutSeconds = defaultRetryTimeoutSeconds
	}
	loaders := cfg.Loaders
	if len(loaders) == 0 {
		loaders = []config.Loader{config.ConfigAttributes, config.ConfigFile}
	}
	cfg.Loaders = append(slices.Clone(loaders), noDebugHeaders{})
	return cfg
}

// copyConfig copies the exported fields of src, as the SDK's own
// Config.NewWithWorkspaceHost does, so that resolving the copy changes
// nothing in src. A nil src gives an empty configuration.
func copyConfig(src *config.Config) *config.Config {
	dst := &config.Config{}
	if src == nil {
		return dst
	}
	sv, dv := reflect.ValueOf(src).Elem(), reflect.ValueOf(dst).Elem()
	for i := range dv.NumField() {
		if f := dv.Field(i); f.CanSet() {
			f.Set(sv.Field(i))
		}
	}
	// Resolution sorts Scopes in place and may append to Loaders.
	dst.Scopes = slices.Clone(src.Scopes)
	dst.Loaders = slices.Clone(src.Loaders)
	// The default strategy records the method it picked; a fresh one picks
	// again for the copy instead of sharing that state.
	if _, ok := dst.Credentials.(*config.DefaultCredentials); ok {
		dst.Credentials = nil
	}
	return dst
}

// loadConfig runs the configuration's loaders (environment, configuration
// file), as the SDK does when it resolves, so that the settings can be
// checked before any request. Loaders only fill empty fields, so running
// them again when the SDK resolves changes nothing.
func loadConfig(cfg *config.Config) error {
	for _, l := range cfg.Loaders {
		if err := l.Configure(cfg); err != nil {
			return err
		}
	}
	return nil
}

// noDebugHeaders is the last loader: whatever the environment or the
// configuration file say, the SDK never logs Authorization headers for the
// driver's calls.
type noDebugHeaders struct{}

func (noDebugHeaders) Name() string { return "lakebase-no-debug-headers" }

func (noDebugHeaders) Configure(cfg *config.Config) error {
	cfg.DebugHeaders = false
	return nil
}

// quietHostMetadata returns the resolver of cfg's host metadata
// (/.well-known/databricks-config) for the driver: it asks the resolver cfg
// would have used, but under ctx, so that the caller's deadline and logger
// apply, and stops it once unreachable notes a failure that retrying cannot
// cure, which the SDK would retry if the URL holds "429". It turns a
// failure into "no metadata", which the SDK would otherwise log as a
// warning to its global logger.
func quietHostMetadata(ctx context.Context, cfg *config.Config, log *slog.Logger, unreachable *firstUnreachable) config.HostMetadataResolver {
	own := cfg.HostMetadataResolver
	return func(_ context.Context, host string) (*config.HostMetadata, error) {
		resolve := own
		if resolve == nil && config.DefaultHostMetadataResolverFactory != nil {
			resolve = config.DefaultHostMetadataResolverFactory(cfg)
		}
		if resolve == nil {
			resolve = cfg.DefaultHostMetadataResolver()
		}
		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		defer context.AfterFunc(unreachable.seen, cancel)()
		meta, err := resolve(rctx, host)
		if err != nil {
			debug(ctx, log, "no workspace metadata; using the configuration as given", slog.String("error", err.Error()))
			return nil, nil
		}
		if meta != nil && !usableOIDCEndpoint(meta, cfg) {
			debug(ctx, log, "workspace metadata has no usable OIDC endpoint; ignoring it")
			return nil, nil
		}
		return meta, nil
	}
}

// usableOIDCEndpoint reports whether the SDK can use meta's OIDC endpoint
// without warning about it.
func usableOIDCEndpoint(meta *config.HostMetadata, cfg *config.Config) bool {
	if cfg.DiscoveryURL != "" {
		return true
	}
	if meta.OIDCEndpoint == "" {
		return false
	}
	return !strings.Contains(meta.OIDCEndpoint, "{account_id}") || cfg.AccountID != "" || meta.AccountID != ""
}

// debug writes a debug line to log, if there is one.
func debug(ctx context.Context, log *slog.Logger, msg string, attrs ...slog.Attr) {
	if log != nil {
		log.LogAttrs(ctx, slog.LevelDebug, msg, attrs...)
	}
}
