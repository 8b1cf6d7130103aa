package controlplane

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go/apierr"
)

func TestErrorText(t *testing.T) {
	cause := errors.New("boom")
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{Step: StepMint, Err: cause}, "lakebase: mint: boom"},
		{&Error{Step: StepResolve, Target: `instance "db"`, Kind: ErrNotFound, Err: cause},
			`lakebase: resolve: instance "db": not found: boom`},
		{&Error{Step: StepResolve, Target: `instance "db"`, Kind: ErrStopped, State: "DELETING"},
			`lakebase: resolve: instance "db": stopped (state DELETING)`},
		{&Error{Step: StepIdentity, Kind: ErrUnauthenticated}, "lakebase: identity: not authenticated"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		cause error
		want  error
	}{
		{fmt.Errorf("x: %w", apierr.ErrNotFound), ErrNotFound},
		{fmt.Errorf("x: %w", apierr.ErrResourceDoesNotExist), ErrNotFound},
		{fmt.Errorf("x: %w", apierr.ErrPermissionDenied), ErrPermissionDenied},
		{fmt.Errorf("x: %w", apierr.ErrUnauthenticated), ErrUnauthenticated},
		{fmt.Errorf("x: %w", apierr.ErrInternalError), nil},
		{fmt.Errorf("x: %w", &ThrottledError{Wait: time.Second}), ErrThrottled},
		{fmt.Errorf("x: %w", apierr.ErrTooManyRequests), ErrThrottled},
		{context.DeadlineExceeded, nil},
		{errors.New("plain"), nil},
	}
	for _, tt := range tests {
		err := fail(StepResolve, "t", tt.cause)
		if err.Kind != tt.want {
			t.Errorf("fail(%v).Kind = %v, want %v", tt.cause, err.Kind, tt.want)
		}
		if !errors.Is(err, tt.cause) {
			t.Errorf("errors.Is(fail(%v), cause) = false", tt.cause)
		}
		if tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("errors.Is(fail(%v), %v) = false", tt.cause, tt.want)
		}
	}
}
