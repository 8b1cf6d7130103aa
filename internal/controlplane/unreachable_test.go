package controlplane

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go/config"
	"go.uber.org/goleak"
)

// A workspace that cannot be reached fails New at once, also when its URL
// holds "429" (a port, or an Azure workspace's id in its host name): the
// SDK's login client takes any failure whose text holds "429" for
// throttling, and would retry it until its retry timeout.
func TestNewFailsAtOnceWhenUnreachable(t *testing.T) {
	tests := []struct {
		name     string
		refused  string // the path whose connection is refused
		settings func(workspace string) Settings
	}{
		{"metadata, pat", "/.well-known/databricks-config", func(ws string) Settings {
			return Settings{Workspace: ws, Auth: AuthPAT, Token: userPAT}
		}},
		{"metadata, oauth-m2m", "/.well-known/databricks-config", func(ws string) Settings {
			return Settings{Workspace: ws, Auth: AuthM2M, ClientID: spID, ClientSecret: spSecret}
		}},
		{"OIDC discovery, oauth-m2m", "/oidc/.well-known/", func(ws string) Settings {
			return Settings{Workspace: ws, Auth: AuthM2M, ClientID: spID, ClientSecret: spSecret}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := goleak.IgnoreCurrent()
			w := startWorkspace(t)
			kit, err := url.Parse(w.URL())
			must(t, err)
			const workspace = "http://adb-7429.lakebase.test"
			s := tt.settings(workspace)
			// The login New leaves to the SDK retries for 5 s, a bound
			// the test can wait for; New must not wait for it.
			s.SDKConfig = &config.Config{HTTPTransport: refusingTransport{to: kit.Host, refused: tt.refused}, RetryTimeoutSeconds: 5}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			start := time.Now()
			_, err = New(ctx, s)
			took := time.Since(start)
			if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "cannot reach the workspace "+workspace) {
				t.Errorf("New: %v; want ErrUnreachable naming %s", err, workspace)
			}
			if took > 2*time.Second {
				t.Errorf("New failed after %s; want at once", took)
			}
			w.Close()
			waitNoLeak(t, before, 15*time.Second)
		})
	}
}

// refusingTransport refuses the connection of requests whose path holds
// refused, answers the host metadata's with 404 Not Found (so that the SDK
// discovers OIDC at the workspace's own URL), and sends the others to the
// workspace at to, whatever host their URL names.
type refusingTransport struct{ to, refused string }

func (rt refusingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.Contains(r.URL.Path, rt.refused) {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	}
	if r.URL.Path == "/.well-known/databricks-config" {
		return &http.Response{StatusCode: http.StatusNotFound, Status: "404 Not Found", Header: http.Header{},
			Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
	}
	r = r.Clone(r.Context())
	r.URL.Host = rt.to
	return http.DefaultTransport.RoundTrip(r)
}

// Only a failure of the workspace itself stops New: automatic mode's probes
// of other hosts may fail for good without saying anything of it.
func TestFirstUnreachableNotesTheWorkspaceOnly(t *testing.T) {
	f := newFirstUnreachable("https://adb-7429.lakebase.test/")
	for _, other := range []string{"http://169.254.169.254", "https://login.lakebase.test"} {
		f.note(&UnreachableError{Workspace: other, Reason: "its port refuses connections"})
		if err := f.failure(); err != nil {
			t.Fatalf("after a failure of %s: %v; want nothing noted", other, err)
		}
	}
	f.note(&UnreachableError{Workspace: "https://ADB-7429.lakebase.test", Reason: "its port refuses connections"})
	if err := f.failure(); !errors.Is(err, ErrUnreachable) {
		t.Errorf("after a failure of the workspace: %v; want ErrUnreachable", err)
	}
}
