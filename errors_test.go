package lakebase

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/lakebase-go/lakebase/internal/backoff"
	"github.com/lakebase-go/lakebase/internal/credcache"
	"github.com/lib/pq"
)

// A refused login of a minted credential says how to create the role, for
// the kind of identity its name shows, and keeps the server's error.
func TestRoleHint(t *testing.T) {
	for _, tc := range []struct{ role, call string }{
		{"5d1e7c1a-3f0b-4a8e-9c2d-6b7a8f9e0d1c", "databricks_create_role('5d1e7c1a-3f0b-4a8e-9c2d-6b7a8f9e0d1c', 'SERVICE_PRINCIPAL')"},
		{"ana@example.com", "databricks_create_role('ana@example.com', 'USER')"},
		{"analysts", "databricks_create_role('analysts', 'GROUP')"},
		{"o'brien@example.com", "databricks_create_role('o''brien@example.com', 'USER')"},
	} {
		t.Run(tc.role, func(t *testing.T) {
			server := &pq.Error{Code: "28000", Message: "role does not exist"}
			err := error(&roleHintError{err: server, role: tc.role})
			var pe *pq.Error
			if !strings.Contains(err.Error(), tc.call) || !strings.Contains(err.Error(), "role does not exist") || !errors.As(err, &pe) || pe != server {
				t.Errorf("error %q: want the server's error, found by errors.As, and %s", err, tc.call)
			}
		})
	}
}

// error.type names a failure's kind by a short fixed name, wherever the
// failure sits in the chain, and never by its text.
func TestErrorType(t *testing.T) {
	step := func(err error) error {
		return &ConnectError{Step: "mint", Target: "instance \"db\"", User: "person@example.com", Err: err}
	}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"refused login", step(&pq.Error{Code: "28P01", Message: "password authentication failed for user \"person@example.com\""}), "28P01"},
		{"no database", &pq.Error{Code: "3D000"}, "3D000"},
		{"refused through Open (pgconn)", step(fmt.Errorf("login: %w", &pgconn.PgError{Code: "28000", Message: "role \"x\" does not exist"})), "28000"},
		{"throttled past the deadline", fmt.Errorf("%w (beyond the deadline: %w)", ErrThrottled, context.DeadlineExceeded), "throttled"},
		{"deadline", context.DeadlineExceeded, "deadline_exceeded"},
		{"cancelled", step(context.Canceled), "canceled"},
		{"closed connector", ErrConnectorClosed, "closed"},
		{"closed cache", step(credcache.ErrClosed), "closed"},
		{"bad config", invalidKey("instance", "bad"), "invalid_config"},
		{"not found during a backoff", step(&backoff.Error{Err: fmt.Errorf("x: %w", ErrNotFound), Next: time.Second}), "not_found"},
		{"permission", step(ErrPermissionDenied), "permission_denied"},
		{"unauthenticated", ErrUnauthenticated, "unauthenticated"},
		{"stopped", ErrStopped, "stopped"},
		{"not ready", ErrNotReady, "not_ready"},
		{"expired credential", fmt.Errorf("credcache: %w", credcache.ErrExpired), "expired_credential"},
		{"empty token", step(errEmptyToken), "empty_token"},
		{"unknown authority", step(x509.UnknownAuthorityError{}), "tls"},
		{"timeout", &net.OpError{Op: "dial", Err: os.ErrDeadlineExceeded}, "timeout"},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, "network"},
		{"anything else", errors.New("person@example.com: something"), errorTypeOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errorType(tt.err); got != tt.want {
				t.Errorf("errorType(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}
