package controlplane

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"3", 3 * time.Second},
		{" 3 ", 3 * time.Second},
		{"0", 0},
		{"-5", 0},
		{"1.5", 0},
		{"soon", 0},
		{"99999999", maxRetryAfter},
		{"Sun, 01 Jun 2025 12:00:30 GMT", 30 * time.Second},
		{"Sun, 01 Jun 2025 11:59:00 GMT", 0},
		{"Mon, 02 Jun 2025 12:00:00 GMT", maxRetryAfter},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// throttlingWorkspace answers every credential request with 429 and
// Retry-After: 7, and counts them.
func throttlingWorkspace(t *testing.T, calls *atomic.Int64) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/credentials") {
			http.NotFound(w, r)
			return
		}
		calls.Add(1)
		w.Header().Set("Retry-After", "7")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"error_code":"REQUEST_LIMIT_EXCEEDED","message":"Too many requests"}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestMintThrottledFailsAtOnceWithRetryAfter(t *testing.T) {
	isolate(t)
	var calls atomic.Int64
	srv := throttlingWorkspace(t, &calls)
	c, err := New(context.Background(), Settings{Workspace: srv.URL, Auth: AuthPAT, Token: "dapi-s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	mints := []struct {
		name string
		mint func(ctx context.Context) error
	}{
		{"instance", func(ctx context.Context) error {
			_, _, err := c.MintForInstance(ctx, "db", nil)
			return err
		}},
		{"endpoint", func(ctx context.Context) error {
			_, _, err := c.MintForEndpoint(ctx, "projects/p/branches/b/endpoints/e", 0, nil)
			return err
		}},
	}
	for _, m := range mints {
		t.Run(m.name, func(t *testing.T) {
			calls.Store(0)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			start := time.Now()
			err := m.mint(ctx)
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("the mint took %s: the SDK retried the 429", took)
			}
			if n := calls.Load(); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
			var te *ThrottledError
			if !errors.Is(err, ErrThrottled) || !errors.As(err, &te) || te.RetryAfter() != 7*time.Second {
				t.Fatalf("mint = %v, want ErrThrottled with a *ThrottledError waiting 7s", err)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.Step != StepMint {
				t.Errorf("mint = %#v, want an *Error of step mint", err)
			}
			if msg := err.Error(); !strings.Contains(msg, "429") || !strings.Contains(msg, "7s") || strings.Contains(msg, "s3cret") {
				t.Errorf("error text %q should say 429 and 7s, and hold no secret", msg)
			}
		})
	}
}

func TestThrottleTransportPassesUnmarkedCalls(t *testing.T) {
	var calls atomic.Int64
	srv := throttlingWorkspace(t, &calls)
	base, owned := newClientTransport(nil, false)
	defer owned.CloseIdleConnections()
	tr := throttleTransport{base: base, now: time.Now}
	for _, marked := range []bool{false, true} {
		ctx, throttled := context.Background(), func() error { return nil }
		if marked {
			ctx, throttled = reportThrottling(ctx)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/api/2.0/database/credentials", nil)
		resp, err := tr.RoundTrip(req)
		switch {
		case marked && (resp != nil || !errors.As(err, new(*ThrottledError))):
			t.Errorf("marked call: %v, %v; want a *ThrottledError and no response", resp, err)
		case marked && ctx.Err() == nil:
			t.Error("marked call: its context goes on after the 429; want it ended, so that no retry outlasts it")
		case !marked && (err != nil || resp.StatusCode != http.StatusTooManyRequests):
			t.Errorf("unmarked call: %v, %v; want the 429 response itself", resp, err)
		}
		if te := throttled(); marked != (te != nil) {
			t.Errorf("marked=%v: done = %v", marked, te)
		}
		if resp != nil {
			_ = resp.Body.Close()
		}
	}
}
