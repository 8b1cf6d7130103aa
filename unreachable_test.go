package lakebase_test

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
)

// closedPort returns a loopback address on which nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// A workspace that cannot be reached in a way that retrying cannot cure (a
// port that refuses connections, a server that does not speak TLS, a
// certificate no one trusts) fails Connect at once with ErrUnreachable,
// naming the workspace and the reason, instead of retrying until the
// context's deadline; the error carries one "lakebase:" prefix.
func TestUnreachableWorkspaceFailsAtOnce(t *testing.T) {
	t.Parallel()
	plain := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(plain.Close)
	untrusted := httptest.NewUnstartedServer(http.NotFoundHandler())
	untrusted.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	untrusted.StartTLS()
	t.Cleanup(untrusted.Close)
	refused := "http://" + closedPort(t)
	tests := []struct {
		name, workspace, auth, reason string
	}{
		{"refused, pat", refused, "auth=pat token=dapi-not-a-secret-really", "refuses connections"},
		{"refused, oauth-m2m", refused, "auth=oauth-m2m client_id=app client_secret=s3cret-value", "refuses connections"},
		{"not TLS", "https://" + plain.Listener.Addr().String(), "auth=pat token=dapi-not-a-secret-really", "does not answer in TLS"},
		{"untrusted certificate", untrusted.URL, "auth=oauth-m2m client_id=app client_secret=s3cret-value", "certificate is not trusted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logs, took, err := pingFails(t, "instance=orders workspace="+tt.workspace+" "+tt.auth)
			wantConnectError(t, err, "resolve", `instance "orders"`, "cannot reach the workspace "+tt.workspace, tt.reason)
			if !errors.Is(err, lakebase.ErrUnreachable) {
				t.Errorf("errors.Is(%v, ErrUnreachable) = false", err)
			}
			if n := strings.Count(err.Error(), "lakebase:"); n != 1 {
				t.Errorf("%q carries %d lakebase: prefixes, want 1", err, n)
			}
			if took > 5*time.Second {
				t.Errorf("the error took %s; an unreachable workspace is not retried", took)
			}
			var s secrets
			s.add("dapi-not-a-secret-really", "s3cret-value")
			s.check(t, logs, err)
		})
	}
}

// A workspace that keeps failing in a way that retrying may cure (503) is
// retried until the context ends; then Connect returns the context's error
// itself and logs the last failure, and Host, for tools such as lakebase
// ping, says what the workspace last answered.
func TestWorkspaceFailingUntilTheDeadlineSaysWhy(t *testing.T) {
	t.Parallel()
	down := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(http.StatusServiceUnavailable)
		_, _ = rw.Write([]byte(`{"error_code":"TEMPORARILY_UNAVAILABLE","message":"the workspace is down for maintenance"}`))
	}))
	t.Cleanup(down.Close)
	logs := newLogCapture()
	conn, _ := openConnector(t, "instance=orders workspace="+down.URL+" auth=pat token=dapi-not-a-secret-really", withLogger(logs))

	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	_, _, err := conn.Host(ctx)
	t.Logf("Host: %v", err)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("errors.Is(%v, DeadlineExceeded) = false", err)
	}
	wantConnectError(t, err, "resolve", `instance "orders"`, "did not answer in time", down.URL+" answered 503 Service Unavailable")

	ctx2, cancel2 := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel2()
	c, err := conn.Connect(ctx2)
	if err == nil {
		c.Close()
		t.Fatal("Connect succeeded")
	}
	if err != context.DeadlineExceeded {
		t.Errorf("Connect: %v, want context.DeadlineExceeded itself", err)
	}
	if !strings.Contains(logs.String(), "workspace_failure") || !strings.Contains(logs.String(), "503") {
		t.Errorf("the log does not say what the workspace answered:\n%s", logs)
	}
	var s secrets
	s.add("dapi-not-a-secret-really")
	s.check(t, logs, err)
}
