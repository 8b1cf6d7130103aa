package controlplane

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/lakebase-go/lakebase/lakebasetest"
	"go.uber.org/goleak"
)

func TestNewReusesUsersClient(t *testing.T) {
	w := startWorkspace(t)
	wc, err := databricks.NewWorkspaceClient(&databricks.Config{Host: w.URL(), ClientID: spID, ClientSecret: spSecret, AuthType: "oauth-m2m"})
	must(t, err)
	c := newClient(t, Settings{Client: wc, Auth: AuthM2M, Workspace: "https://ignored.example"})
	if c.w != wc {
		t.Error("New did not use the given client")
	}
	name, err := c.UserName(testContext(t))
	if err != nil || name != spID {
		t.Errorf("UserName = %q, %v; want the client's id %q", name, err, spID)
	}
	if _, err := c.Instance(testContext(t), instName); err != nil {
		t.Errorf("Instance through the user's client: %v", err)
	}
}

// Each case makes one route hang; the call must end with its context.
func TestCallsHonourContext(t *testing.T) {
	tests := []struct {
		name  string
		route string
		s     func(*lakebasetest.Workspace) Settings
	}{
		{"slow lookup", "instance", pat},
		{"slow m2m token", "token", m2m},
		{"slow token in automatic mode", "token", func(w *lakebasetest.Workspace) Settings {
			return Settings{Workspace: w.URL(), ClientID: spID, ClientSecret: spSecret}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := startWorkspace(t)
			if tt.route == "token" {
				// The workspace token New got expires at once, so the call
				// must fetch another.
				w.SetOAuthTokenLifetime(time.Second)
			}
			c := newClient(t, tt.s(w))
			if tt.route == "token" {
				time.Sleep(1100 * time.Millisecond)
			}
			w.Fail(tt.route, lakebasetest.Fault{Delay: time.Minute})
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := c.Instance(ctx, instName)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Instance past its deadline: %v, want context.DeadlineExceeded", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Instance returned %s after its deadline", d)
			}
		})
	}
}

// Each case makes a route New needs hang; New must end with its context,
// and end the login it left to the SDK before it returns, long before the
// SDK's own timeouts (a minute) would.
func TestNewHonoursContext(t *testing.T) {
	for _, route := range []string{"host-metadata", "oidc-discovery"} {
		t.Run(string(route), func(t *testing.T) {
			w := startWorkspace(t)
			w.Fail(route, lakebasetest.Fault{Delay: time.Minute})
			before := goleak.IgnoreCurrent()
			s := m2m(w)
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := New(ctx, s)
			if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "lakebase: identity: logging in to "+w.URL()) {
				t.Errorf("New past its deadline: %v, want context.DeadlineExceeded while logging in", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("New returned %s after its deadline", d)
			}
			waitNoLeak(t, before, 10*time.Second)
			w.Close()
		})
	}
}

// waitNoLeak fails the test unless, within d, no goroutine is left but those
// that ignore names.
func waitNoLeak(t *testing.T, ignore goleak.Option, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := goleak.Find(ignore)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutines left after %s: %v", d, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
