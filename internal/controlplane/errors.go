package controlplane

import (
	"context"
	"errors"
	"strings"

	"github.com/databricks/databricks-sdk-go/apierr"
)

// Kinds of failure that callers branch on. Every error returned by this
// package is an *Error; errors.Is reports its kind and, through its cause,
// the SDK's own error (apierr) or the context's.
var (
	// ErrConfig: the settings cannot work (a missing client id, token or
	// workspace, a malformed name). Retrying does not help.
	ErrConfig = errors.New("lakebase: invalid settings")
	// ErrNotFound: the instance, endpoint or host does not exist in the workspace.
	ErrNotFound = errors.New("lakebase: not found")
	// ErrPermissionDenied: the identity may not read the target or mint for it.
	ErrPermissionDenied = errors.New("lakebase: permission denied")
	// ErrUnauthenticated: the workspace did not accept the login, or there is no login.
	ErrUnauthenticated = errors.New("lakebase: not authenticated")
	// ErrStopped: the instance is stopped or being deleted, or the endpoint
	// is disabled. Waiting does not help.
	ErrStopped = errors.New("lakebase: stopped")
	// ErrNotReady: the target is starting, updating, failing over or waking;
	// retry within the connect budget.
	ErrNotReady = errors.New("lakebase: not ready")
	// ErrUnreachable: the workspace cannot be reached, in a way that
	// retrying cannot cure: its port refuses connections, its host does not
	// exist, or TLS with it fails (see UnreachableError).
	ErrUnreachable = errors.New("lakebase: workspace unreachable")
	// ErrThrottled: the workspace refused the call with 429 Too Many
	// Requests; the cause (a *ThrottledError for a mint or a login) says
	// how long to wait.
	ErrThrottled = errors.New("lakebase: throttled")
)

// Step names the part of the work that failed.
type Step string

// The steps of this package.
const (
	StepResolve  Step = "resolve"  // settings, login and target lookup
	StepIdentity Step = "identity" // the calling identity's user name
	StepMint     Step = "mint"     // minting a Postgres credential
)

// Error is the error of every function in this package. Its text reads
// "lakebase: <step>: <target>: <kind> (state S): <cause>", with the parts
// that do not apply left out, and never carries a secret.
type Error struct {
	Step   Step
	Target string // the instance, endpoint or host concerned, quoted; may be empty
	Kind   error  // one of the Err* kinds above, or nil when unclassified
	State  string // the target's state, for ErrStopped and ErrNotReady
	Err    error  // the cause, often an SDK error; may be nil
}

// Error describes the failure.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("lakebase: ")
	b.WriteString(string(e.Step))
	if e.Target != "" {
		b.WriteString(": ")
		b.WriteString(e.Target)
	}
	if e.Kind != nil {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.Kind.Error(), "lakebase: "))
	}
	if e.State != "" {
		b.WriteString(" (state ")
		b.WriteString(e.State)
		b.WriteString(")")
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap gives errors.Is and errors.As both the kind and the cause.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// fail wraps cause as an *Error of step about target, classifying it.
func fail(step Step, target string, cause error) *Error {
	return &Error{Step: step, Target: target, Kind: classify(cause), Err: cause}
}

// classify maps an SDK or context error to a kind, or nil.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return nil
	case errors.Is(err, ErrUnreachable):
		return ErrUnreachable
	case errors.Is(err, apierr.ErrNotFound):
		return ErrNotFound
	case errors.Is(err, apierr.ErrPermissionDenied):
		return ErrPermissionDenied
	case errors.Is(err, apierr.ErrUnauthenticated):
		return ErrUnauthenticated
	case errors.As(err, new(*ThrottledError)), errors.Is(err, apierr.ErrTooManyRequests):
		return ErrThrottled
	}
	return nil
}

// configError is an ErrConfig of the resolve step.
func configError(msg string) *Error {
	return &Error{Step: StepResolve, Kind: ErrConfig, Err: errors.New(msg)}
}
