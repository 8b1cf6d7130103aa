package controlplane

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/databricks/databricks-sdk-go/config"
)

// noMetadata resolves no host metadata, so that resolving makes no request.
func noMetadata(context.Context, string) (*config.HostMetadata, error) { return nil, nil }

func TestNewSDKConfigCopiesAndOverrides(t *testing.T) {
	isolate(t)
	t.Setenv("DATABRICKS_DEBUG_HEADERS", "true")
	src := &config.Config{
		Host:                 "https://theirs.example",
		Token:                "dapi-theirs",
		Scopes:               []string{"sql", "all-apis"},
		DebugHeaders:         true,
		HostMetadataResolver: noMetadata,
	}
	if err := src.EnsureResolved(); err != nil {
		t.Fatal(err)
	}
	cfg := newSDKConfig(Settings{SDKConfig: src, Workspace: "https://ours.example", Auth: AuthPAT})
	if err := cfg.EnsureResolved(); err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "https://ours.example" || cfg.Token != "dapi-theirs" || cfg.AuthType != "pat" {
		t.Errorf("copy: host %q, token set %v, auth type %q", cfg.Host, cfg.Token != "", cfg.AuthType)
	}
	if cfg.DebugHeaders {
		t.Error("DebugHeaders is on in the driver's configuration")
	}
	if src.Host != "https://theirs.example" || !src.DebugHeaders || src.AuthType != "" || len(src.Loaders) != 2 {
		t.Errorf("the user's configuration changed: host %q, debug headers %v, auth type %q, %d loaders",
			src.Host, src.DebugHeaders, src.AuthType, len(src.Loaders))
	}
	if !slices.Equal(src.Scopes, []string{"all-apis", "sql"}) && !slices.Equal(src.Scopes, []string{"sql", "all-apis"}) {
		t.Errorf("scopes %v", src.Scopes)
	}
	cfg.Scopes[0] = "changed"
	if slices.Contains(src.Scopes, "changed") {
		t.Error("the copy shares its scopes with the user's configuration")
	}
}

func TestNewSDKConfigModes(t *testing.T) {
	tests := []struct {
		mode AuthMode
		want string
	}{{AuthAuto, ""}, {AuthPassword, ""}, {AuthM2M, "oauth-m2m"}, {AuthPAT, "pat"}}
	for _, tt := range tests {
		cfg := newSDKConfig(Settings{Workspace: "https://w.example", Auth: tt.mode, ClientID: "sp", ClientSecret: "s"})
		if cfg.AuthType != tt.want || cfg.ClientID != "sp" || cfg.ClientSecret != "s" || cfg.Host != "https://w.example" {
			t.Errorf("mode %q: auth type %q (want %q), client %q, host %q", tt.mode, cfg.AuthType, tt.want, cfg.ClientID, cfg.Host)
		}
	}
}

func TestQuietHostMetadata(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	good := &config.HostMetadata{OIDCEndpoint: "https://w.example/oidc", WorkspaceID: "1"}
	tests := []struct {
		name    string
		own     config.HostMetadataResolver
		want    *config.HostMetadata
		logLine string
	}{
		{"usable", func(context.Context, string) (*config.HostMetadata, error) { return good, nil }, good, ""},
		{"failure", func(context.Context, string) (*config.HostMetadata, error) { return nil, errors.New("refused") }, nil, "no workspace metadata"},
		{"no oidc", func(context.Context, string) (*config.HostMetadata, error) {
			return &config.HostMetadata{WorkspaceID: "1"}, nil
		}, nil, "no usable OIDC endpoint"},
		{"account placeholder", func(context.Context, string) (*config.HostMetadata, error) {
			return &config.HostMetadata{OIDCEndpoint: "https://a.example/oidc/accounts/{account_id}"}, nil
		}, nil, "no usable OIDC endpoint"},
	}
	for _, tt := range tests {
		buf.Reset()
		type key struct{}
		ctx := context.WithValue(context.Background(), key{}, "ours")
		var sawOurs bool
		own := tt.own
		cfg := &config.Config{HostMetadataResolver: func(c context.Context, host string) (*config.HostMetadata, error) {
			sawOurs = c.Value(key{}) == "ours"
			return own(c, host)
		}}
		got, err := quietHostMetadata(ctx, cfg, log, newFirstUnreachable(cfg.Host))(context.Background(), "https://w.example")
		if err != nil || got != tt.want {
			t.Errorf("%s: got %v, %v; want %v", tt.name, got, err, tt.want)
		}
		if !sawOurs {
			t.Errorf("%s: the resolver did not run under the driver's context", tt.name)
		}
		if tt.logLine != "" && !strings.Contains(buf.String(), tt.logLine) {
			t.Errorf("%s: log %q lacks %q", tt.name, buf.String(), tt.logLine)
		}
	}
}
