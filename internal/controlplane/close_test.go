package controlplane

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase/lakebasetest"
	"go.uber.org/goleak"
)

// loginCase is a way of logging in whose workspace token expires at once,
// so that every call fetches a new one from the token endpoint.
type loginCase struct {
	name     string
	settings func(t *testing.T, w *lakebasetest.Workspace) Settings
}

// tokenLogins are the logins that fetch workspace tokens: a service
// principal's, named or found by unified authentication, and a person's
// in-process login, refreshed from its token file.
var tokenLogins = []loginCase{
	{"oauth-m2m", func(_ *testing.T, w *lakebasetest.Workspace) Settings { return m2m(w) }},
	{"automatic", func(_ *testing.T, w *lakebasetest.Workspace) Settings {
		return Settings{Workspace: w.URL(), ClientID: spID, ClientSecret: spSecret}
	}},
	{"oauth-u2m", func(t *testing.T, w *lakebasetest.Workspace) Settings {
		must(t, w.SetBrowserUser(userEmail))
		dir := t.TempDir()
		c := newClient(t, Settings{Workspace: w.URL(), Auth: AuthU2M, TokenCacheDir: dir, Browser: w.OpenBrowser})
		c.Close()
		return Settings{Workspace: w.URL(), Auth: AuthU2M, TokenCacheDir: dir}
	}},
}

// expiringTokens makes the workspace's tokens live a second, and returns
// once a client made before it was called holds an expired one.
func expiringTokens(w *lakebasetest.Workspace) func() {
	w.SetOAuthTokenLifetime(time.Second)
	return func() { time.Sleep(1100 * time.Millisecond) }
}

// Close ends the calls in flight, the SDK's logins among them, and every
// goroutine the Client or the SDK started for it, with the SDK's own
// timeouts (a minute of retries) far away: nothing is left once Close has
// returned, not even the connections to the workspace, which still runs.
func TestCloseEndsCallsInFlight(t *testing.T) {
	cases := append([]loginCase{{"pat", func(_ *testing.T, w *lakebasetest.Workspace) Settings { return pat(w) }}}, tokenLogins...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := startWorkspace(t)
			expire := expiringTokens(w)
			s := tc.settings(t, w)
			before := goleak.IgnoreCurrent()
			c, err := New(testContext(t), s)
			must(t, err)
			expire()
			route := "token" // the login hangs
			if s.Auth == AuthPAT {
				route = "instance" // the lookup hangs
			}
			w.Fail(route, lakebasetest.Fault{Delay: time.Minute})
			reached := w.Requests(route)
			ended := make(chan error, 1)
			go func() {
				_, err := c.Instance(testContext(t), instName)
				ended <- err
			}()
			deadline := time.Now().Add(10 * time.Second)
			for w.Requests(route) == reached {
				if time.Now().After(deadline) {
					t.Fatalf("no request to %s within 10s", route)
				}
				time.Sleep(5 * time.Millisecond)
			}
			start := time.Now()
			c.Close()
			select {
			case err := <-ended:
				if err == nil {
					t.Error("the call in flight at Close succeeded")
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the call in flight still runs 10s after Close")
			}
			if took := time.Since(start); took > 5*time.Second { // at once, but a loaded machine is slow
				t.Errorf("Close and the call in flight took %s; want them done at once", took)
			}
			if _, err := c.Instance(testContext(t), instName); !errors.Is(err, errClientClosed) {
				t.Errorf("a call after Close = %v, want errClientClosed", err)
			}
			waitNoLeak(t, before, 10*time.Second)
		})
	}
}

// A token endpoint that throttles (429 with Retry-After: 60) fails the
// lookup or the mint that needed the token at once, however long the
// caller's deadline, with an error that names the throttling and the wait
// and holds no secret; the SDK does not retry it.
func TestLoginThrottledFailsAtOnce(t *testing.T) {
	calls := []struct {
		name string
		call func(ctx context.Context, c *Client) error
	}{
		{"lookup", func(ctx context.Context, c *Client) error {
			_, err := c.Instance(ctx, instName)
			return err
		}},
		{"mint", func(ctx context.Context, c *Client) error {
			_, _, err := c.MintForInstance(ctx, instName, nil)
			return err
		}},
	}
	for _, tc := range tokenLogins {
		for _, call := range calls {
			t.Run(tc.name+"/"+call.name, func(t *testing.T) {
				w := startWorkspace(t)
				expire := expiringTokens(w)
				c := newClient(t, tc.settings(t, w))
				expire()
				w.Fail("token", lakebasetest.Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Minute})
				before := w.Requests("token")
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				start := time.Now()
				err := call.call(ctx, c)
				if took := time.Since(start); took > 5*time.Second {
					t.Errorf("the throttled call took %s; want it to fail at once", took)
				}
				var te *ThrottledError
				if !errors.Is(err, ErrThrottled) || !errors.As(err, &te) || te.RetryAfter() != time.Minute {
					t.Fatalf("call = %v; want ErrThrottled with a *ThrottledError asking for 1m", err)
				}
				if msg := err.Error(); !strings.Contains(msg, "429") || !strings.Contains(msg, "logging in to "+w.URL()) {
					t.Errorf("error %q should say 429 and name the login", msg)
				}
				noSecret(t, "the error", err.Error())
				if n := w.Requests("token") - before; n != 1 {
					t.Errorf("%d token requests, want 1: the SDK retried the 429", n)
				}
			})
		}
	}
}
