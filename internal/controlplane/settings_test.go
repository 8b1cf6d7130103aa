package controlplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestNewRejectsSettingsEarly(t *testing.T) {
	tests := []struct {
		name string
		s    Settings
		env  map[string]string
		want string // in the error text
	}{
		{"unknown auth", Settings{Workspace: "https://w.example", Auth: "oauth"}, nil, `auth="oauth"`},
		{"secret without id", Settings{Workspace: "https://w.example", ClientSecret: "s3cret"}, nil, "client_secret is set without client_id"},
		{"no workspace", Settings{Auth: AuthPAT, Token: "dapi-s3cret"}, nil, "no workspace"},
		{"m2m without secret", Settings{Workspace: "https://w.example", Auth: AuthM2M, ClientID: "sp"}, nil, "auth=oauth-m2m needs client_id and client_secret"},
		{"m2m without id", Settings{Workspace: "https://w.example", Auth: AuthM2M}, nil, "auth=oauth-m2m needs client_id and client_secret"},
		{"pat without token", Settings{Workspace: "https://w.example", Auth: AuthPAT}, nil, "auth=pat needs token"},
		{"profile without file", Settings{Profile: "nope", Auth: AuthPAT}, map[string]string{"DATABRICKS_CONFIG_FILE": ""}, `profile="nope" gives no host`},
		{"missing profile", Settings{Profile: "nope", Auth: AuthPAT}, map[string]string{"DATABRICKS_CONFIG_FILE": "testdata/databrickscfg"}, "no nope profile"},
		{"profile without host", Settings{Profile: "hostless", Auth: AuthPAT}, map[string]string{"DATABRICKS_CONFIG_FILE": "testdata/databrickscfg"}, `profile="hostless" gives no host`},
		{"profile without token", Settings{Profile: "m2m", Auth: AuthPAT}, map[string]string{"DATABRICKS_CONFIG_FILE": "testdata/databrickscfg"}, "auth=pat needs token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			c, err := New(context.Background(), tt.s)
			if err == nil {
				t.Fatalf("New(%v) = %v, want an error", tt.s, c)
			}
			if !errors.Is(err, ErrConfig) {
				t.Errorf("New(%v): %v, want ErrConfig", tt.s, err)
			}
			var e *Error
			if !errors.As(err, &e) || e.Step != StepResolve {
				t.Errorf("New(%v): %v, want an *Error of step resolve", tt.s, err)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "lakebase: resolve: ") {
				t.Errorf("New(%v): %q, want it to start lakebase: resolve: and contain %q", tt.s, err, tt.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("New: %q shows a secret", err)
			}
		})
	}
}

func TestNewTakesFromEnvironment(t *testing.T) {
	isolate(t)
	t.Setenv("DATABRICKS_CLIENT_ID", "sp-from-env")
	t.Setenv("DATABRICKS_CLIENT_SECRET", "s3cret")
	// The environment supplies what the settings leave open; with no
	// workspace the check still fails before any request.
	_, err := New(context.Background(), Settings{Auth: AuthM2M})
	if err == nil || !strings.Contains(err.Error(), "no workspace") {
		t.Fatalf("New: %v, want the missing workspace named", err)
	}
}

func TestSettingsHideSecrets(t *testing.T) {
	s := Settings{Workspace: "https://w.example", Auth: AuthM2M, ClientID: "sp", ClientSecret: "s3cret", Token: "dapi-t0ken"}
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("settings", "s", s)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%+v", s), fmt.Sprintf("%#v", s), logged.String()} {
		if strings.Contains(out, "s3cret") || strings.Contains(out, "dapi-t0ken") {
			t.Errorf("settings printed with a secret: %s", out)
		}
		if !strings.Contains(out, "sp") || !strings.Contains(out, "redacted") {
			t.Errorf("settings printed without the client id or the redaction mark: %s", out)
		}
	}
}
