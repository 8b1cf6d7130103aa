package lakebasetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/database"
	"github.com/databricks/databricks-sdk-go/service/iam"
	"github.com/databricks/databricks-sdk-go/service/postgres"
)

func TestWorkspaceAPIErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(*Workspace)
		call  func(*databricks.WorkspaceClient) error
		want  []error
	}{
		{
			name: "unknown instance",
			call: func(c *databricks.WorkspaceClient) error {
				_, err := c.Database.GetDatabaseInstance(t.Context(), database.GetDatabaseInstanceRequest{Name: "nope"})
				return err
			},
			want: []error{apierr.ErrResourceDoesNotExist, databricks.ErrNotFound},
		},
		{
			name: "credential for unknown instance",
			call: func(c *databricks.WorkspaceClient) error {
				_, err := c.Database.GenerateDatabaseCredential(t.Context(), database.GenerateDatabaseCredentialRequest{InstanceNames: []string{"nope"}})
				return err
			},
			want: []error{apierr.ErrResourceDoesNotExist},
		},
		{
			name: "unknown endpoint",
			call: func(c *databricks.WorkspaceClient) error {
				_, err := c.Postgres.GetEndpoint(t.Context(), postgres.GetEndpointRequest{Name: "projects/shop/branches/main/endpoints/nope"})
				return err
			},
			want: []error{apierr.ErrResourceDoesNotExist},
		},
		{
			name:  "instance denied",
			setup: func(w *Workspace) { w.DenyInstance(wsInstance, wsSPID) },
			call: func(c *databricks.WorkspaceClient) error {
				_, err := c.Database.GenerateDatabaseCredential(t.Context(), database.GenerateDatabaseCredentialRequest{InstanceNames: []string{wsInstance}})
				return err
			},
			want: []error{apierr.ErrPermissionDenied},
		},
		{
			name:  "endpoint denied",
			setup: func(w *Workspace) { w.DenyEndpoint(wsEndpoint, wsSPID) },
			call: func(c *databricks.WorkspaceClient) error {
				_, err := c.Postgres.GenerateDatabaseCredential(t.Context(), postgres.GenerateDatabaseCredentialRequest{Endpoint: wsEndpoint})
				return err
			},
			want: []error{apierr.ErrPermissionDenied},
		},
		{
			name: "several instances in one credential",
			call: func(c *databricks.WorkspaceClient) error {
				_, err := c.Database.GenerateDatabaseCredential(t.Context(), database.GenerateDatabaseCredentialRequest{InstanceNames: []string{wsInstance, wsInstance}})
				return err
			},
			want: []error{apierr.ErrInvalidParameterValue},
		},
		{
			name: "fault with an error code",
			setup: func(w *Workspace) {
				w.Fail("instance", Fault{Status: 400, ErrorCode: "INVALID_STATE", Message: "busy", Times: 1})
			},
			call: func(c *databricks.WorkspaceClient) error {
				_, err := c.Database.GetDatabaseInstance(t.Context(), database.GetDatabaseInstanceRequest{Name: wsInstance})
				return err
			},
			want: []error{apierr.ErrInvalidState, apierr.ErrBadRequest},
		},
		{
			name:  "fault on the token route",
			setup: func(w *Workspace) { w.Fail("token", Fault{Status: 401, ErrorCode: "invalid_client"}) },
			call: func(c *databricks.WorkspaceClient) error {
				_, err := c.CurrentUser.Me(t.Context(), iam.MeRequest{})
				return err
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, _ := wsStart(t)
			if tt.setup != nil {
				tt.setup(w)
			}
			err := tt.call(wsClient(t, w, wsM2M()))
			if err == nil {
				t.Fatal("no error")
			}
			for _, want := range tt.want {
				if !errors.Is(err, want) {
					t.Errorf("error %v is not %v", err, want)
				}
			}
			if w.Mints() != 0 {
				t.Errorf("mints = %d, want 0", w.Mints())
			}
		})
	}
}

// TestWorkspaceTooManyRequests shows how the SDK meets a 429: it retries by
// itself, waiting at least a second (its own backoff, which v0.182.0 does not
// lengthen for Retry-After on API calls), and when its retry budget runs out
// it returns an error that is ErrTooManyRequests and carries the Retry-After
// header for the caller.
func TestWorkspaceTooManyRequests(t *testing.T) {
	generate := func(c *databricks.WorkspaceClient) error {
		_, err := c.Database.GenerateDatabaseCredential(t.Context(), database.GenerateDatabaseCredentialRequest{InstanceNames: []string{wsInstance}})
		return err
	}
	t.Run("once then success", func(t *testing.T) {
		w, _ := wsStart(t)
		w.Fail("database-credential", Fault{Status: 429, RetryAfter: time.Second, Times: 1})
		c := wsClient(t, w, wsM2M())
		start := time.Now()
		if err := generate(c); err != nil {
			t.Fatalf("GenerateDatabaseCredential: %v", err)
		}
		if elapsed := time.Since(start); elapsed < time.Second {
			t.Errorf("retried after %v, before Retry-After", elapsed)
		}
		if w.Requests("database-credential") != 2 || w.Mints() != 1 {
			t.Errorf("requests = %d, mints = %d; want 2, 1", w.Requests("database-credential"), w.Mints())
		}
	})
	t.Run("until the retry budget runs out", func(t *testing.T) {
		w, _ := wsStart(t)
		w.Fail("database-credential", Fault{Status: 429, RetryAfter: 300 * time.Millisecond})
		cfg := wsM2M()
		cfg.RetryTimeoutSeconds = 1
		err := generate(wsClient(t, w, cfg))
		var apiErr *apierr.APIError
		if !errors.Is(err, databricks.ErrTooManyRequests) || !errors.As(err, &apiErr) {
			t.Fatalf("error = %v, want ErrTooManyRequests", err)
		}
		if got := apiErr.ResponseWrapper.Response.Header.Get("Retry-After"); got != "1" {
			t.Errorf("Retry-After = %q, want 1 (rounded up to a second)", got)
		}
		if w.Mints() != 0 {
			t.Errorf("mints = %d, want 0", w.Mints())
		}
	})
}

func TestWorkspaceSlowness(t *testing.T) {
	tests := []struct {
		name  string
		setup func(*Workspace)
		want  time.Duration
	}{
		{"mint latency", func(w *Workspace) { w.SetMintLatency(50 * time.Millisecond) }, 50 * time.Millisecond},
		{"route delay", func(w *Workspace) { w.Fail("database-credential", Fault{Delay: 80 * time.Millisecond, Times: 1}) }, 80 * time.Millisecond},
		{"latency of every call", func(w *Workspace) { w.SetLatency(60 * time.Millisecond) }, 60 * time.Millisecond},
		{"latency and mint latency", func(w *Workspace) { w.SetLatency(40 * time.Millisecond); w.SetMintLatency(50 * time.Millisecond) }, 90 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, _ := wsStart(t)
			c := wsClient(t, w, wsM2M())
			if _, err := c.CurrentUser.Me(t.Context(), iam.MeRequest{}); err != nil { // log in first
				t.Fatal(err)
			}
			tt.setup(w)
			start := time.Now()
			_, err := c.Database.GenerateDatabaseCredential(t.Context(), database.GenerateDatabaseCredentialRequest{InstanceNames: []string{wsInstance}})
			if err != nil {
				t.Fatal(err)
			}
			if elapsed := time.Since(start); elapsed < tt.want {
				t.Errorf("took %v, want at least %v", elapsed, tt.want)
			}
			if w.Mints() != 1 {
				t.Errorf("mints = %d, want 1", w.Mints())
			}
		})
	}
}

func TestWorkspaceFaultTimesAndClear(t *testing.T) {
	w, _ := wsStart(t)
	c := wsClient(t, w, wsPAT(wsUserPAT))
	me := func() error { _, err := c.CurrentUser.Me(t.Context(), iam.MeRequest{}); return err }

	w.Fail("me", Fault{Status: 403, Times: 2})
	for i, want := range []bool{false, false, true} {
		if err := me(); (err == nil) != want {
			t.Errorf("call %d: error = %v", i, err)
		}
	}
	w.Fail("me", Fault{Status: 403})
	for i := range 3 {
		if err := me(); !errors.Is(err, databricks.ErrPermissionDenied) {
			t.Errorf("call %d with a lasting fault: error = %v", i, err)
		}
	}
	w.ClearFaults()
	if err := me(); err != nil {
		t.Errorf("after ClearFaults: %v", err)
	}
	if got := w.Requests("me"); got != 7 {
		t.Errorf("requests = %d, want 7", got)
	}
}

// TestWorkspaceCloseEndsDelays shows that Close does not wait out a long
// fault delay in progress.
func TestWorkspaceCloseEndsDelays(t *testing.T) {
	w, _ := wsStart(t)
	w.Fail("me", Fault{Delay: time.Minute})
	c := wsClient(t, w, wsPAT(wsUserPAT))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := c.CurrentUser.Me(ctx, iam.MeRequest{})
		done <- err
	}()
	for w.Requests("me") == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	w.Close()
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("Close took %v", elapsed)
	}
	cancel() // the SDK would retry the closed server until its retry budget ends
	if err := <-done; err == nil {
		t.Error("the delayed request succeeded")
	}
}

func TestWorkspaceSecretsNotPrinted(t *testing.T) {
	u := User{Email: wsUserEmail, Token: wsUserPAT, RefreshToken: wsUserRT}
	sp := ServicePrincipal{ApplicationID: wsSPID, Secret: wsSPSecret}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(verb+" "+verb, u, sp)
		for _, secret := range []string{wsUserPAT, wsUserRT, wsSPSecret} {
			if strings.Contains(out, secret) {
				t.Errorf("%s prints a secret: %s", verb, out)
			}
		}
		if !strings.Contains(out, wsUserEmail) || !strings.Contains(out, wsSPID) {
			t.Errorf("%s hides the names: %s", verb, out)
		}
	}
}

// Fail and Requests take a route's name, and panic, naming it, on one the
// workspace does not have: a misspelt route would otherwise never fail.
func TestWorkspaceUnknownRoute(t *testing.T) {
	t.Parallel()
	w := NewWorkspace()
	defer w.Close()
	for name, call := range map[string]func(){
		"Fail":     func() { w.Fail("tokens", Fault{Status: 500}) },
		"Requests": func() { w.Requests("tokens") },
	} {
		func() {
			defer func() {
				if v := recover(); v == nil || !strings.Contains(fmt.Sprint(v), `unknown route "tokens"`) {
					t.Errorf("%s: recovered %v, want a panic naming the route", name, v)
				}
			}()
			call()
		}()
	}
	w.Fail("token", Fault{Status: 500, Times: 1})
	if n := w.Requests("token"); n != 0 {
		t.Errorf("Requests = %d, want 0", n)
	}
}
