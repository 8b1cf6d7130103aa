package lakebase

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/lakebase-go/lakebase/internal/controlplane"
	"github.com/lakebase-go/lakebase/internal/pqsession"
)

// ErrInvalidDSN is wrapped by every error about the DSN or the Config: a
// malformed value, an unknown key that looks like a misspelt lakebase key, or
// keys that cannot go together. Such errors are final: retrying cannot help.
var ErrInvalidDSN = errors.New("lakebase: invalid configuration")

// configError reports a problem with one DSN key (or a pair of them). It never
// holds a secret value.
type configError struct {
	key    string // the DSN key, or "" for the DSN as a whole
	reason string
}

func (e *configError) Error() string {
	if e.key == "" {
		return "lakebase: dsn: " + e.reason
	}
	return fmt.Sprintf("lakebase: dsn: %s: %s", e.key, e.reason)
}

func (e *configError) Unwrap() error { return ErrInvalidDSN }

// invalidKey returns a configError for key with a formatted reason.
func invalidKey(key, format string, args ...any) error {
	return &configError{key: key, reason: fmt.Sprintf(format, args...)}
}

// ConnectError is returned by Connect when a step of opening a connection
// fails. It names the step, the target and the Postgres user, and keeps the
// cause for errors.Is and errors.As (a *pq.Error for a login refused by the
// server, carrying its SQLSTATE).
type ConnectError struct {
	// Step is what failed: "resolve", "identity", "mint", "dial" or "login".
	Step string
	// Target is the instance, endpoint or host the driver was connecting to.
	Target string
	// User is the Postgres role, when it was known.
	User string
	// Err is the cause.
	Err error
}

func (e *ConnectError) Error() string {
	msg := "lakebase: " + e.Step
	if e.Target != "" {
		msg += " " + e.Target
	}
	if e.User != "" {
		msg += fmt.Sprintf(" as %q", e.User)
	}
	// The causes from the workspace steps name the step and target too;
	// the text carries one "lakebase:" prefix, this one.
	cause := e.Err.Error()
	cause = strings.TrimPrefix(cause, "credcache: fetch failed: ")
	cause = strings.TrimPrefix(cause, "lakebase: ")
	cause = strings.TrimPrefix(cause, e.Step+": ")
	cause = strings.TrimPrefix(cause, e.Target+": ")
	return msg + ": " + cause
}

// Unwrap returns the cause.
func (e *ConnectError) Unwrap() error { return e.Err }

// Kinds of workspace failure, for errors.Is on a ConnectError.
var (
	// ErrNotFound: the instance, endpoint or host does not exist in the workspace.
	ErrNotFound = controlplane.ErrNotFound
	// ErrPermissionDenied: the identity may not use the instance or endpoint.
	ErrPermissionDenied = controlplane.ErrPermissionDenied
	// ErrUnauthenticated: the workspace refused the login, or there is none.
	ErrUnauthenticated = controlplane.ErrUnauthenticated
	// ErrStopped: the instance is stopped or being deleted, or the endpoint
	// is disabled (a connection cannot enable it); waiting cannot help.
	ErrStopped = controlplane.ErrStopped
	// ErrNotReady: the target is starting, updating, failing over or waking.
	// Connect waits for it within its budget and returns this when the
	// budget runs out first.
	ErrNotReady = controlplane.ErrNotReady
	// ErrUnreachable: the workspace cannot be reached in a way that
	// retrying cannot cure (its port refuses connections, its host does not
	// exist, TLS with it fails); Connect fails at once instead of retrying
	// until its budget runs out.
	ErrUnreachable = controlplane.ErrUnreachable
	// ErrThrottled: the workspace refused to mint, or to log in (its OAuth
	// token endpoint), with 429 Too Many Requests. For a mint, Connect waits
	// as long as its Retry-After asks when the context's deadline allows, and
	// otherwise returns this at once, together with context.DeadlineExceeded.
	// A throttled login fails the connect at once, and the connects until
	// its Retry-After has passed fail at once with it too.
	ErrThrottled = controlplane.ErrThrottled
)

// SessionEndedError is what errors.As finds in the error of a request on a
// session that the server ended and said why: the ErrorResponse of
// severity FATAL that PostgreSQL sends before it closes the connection (a
// restart or failover and pg_terminate_backend give 57P01, an idle limit
// 25P03 or 57P05). Its Server field is the server's *pq.Error, which
// errors.As finds too; Sent reports whether the request had been sent, and
// so whether the server may have run it. A request outside a transaction
// that was not sent never reaches the caller: database/sql runs it on
// another connection. See the README's "Sessions that the server ends".
type SessionEndedError = pqsession.EndedError

// userFromEnvError is a refused login whose role came from PGUSER and
// differs from the identity's user name. It unwraps to the server's error.
type userFromEnvError struct {
	err            error
	user, identity string
}

func (e *userFromEnvError) Error() string {
	return fmt.Sprintf("%v (the role %q comes from PGUSER, but the credential is %q's, which logs in as %q or as a group role it belongs to: unset PGUSER, or set it to %q)",
		e.err, e.user, e.identity, e.identity, e.identity)
}

func (e *userFromEnvError) Unwrap() error { return e.err }

// poolerDocs is Databricks' page on the pooled hosts and who may use them.
const poolerDocs = "https://docs.databricks.com/aws/en/oltp/projects/connection-pooling"

// poolerRefusalError is a pooled host's refusal of a minted credential. It
// unwraps to the server's error.
type poolerRefusalError struct{ err error }

func (e *poolerRefusalError) Error() string {
	return fmt.Sprintf("%v (a pooled host refused a freshly minted OAuth credential: this pooler may take native Postgres roles only; "+
		"connect without pooled=true, or log in as a native role with auth=password; see %s)", e.err, poolerDocs)
}

func (e *poolerRefusalError) Unwrap() error { return e.err }

// roleHintError is a refused login of an identity whose credential the
// workspace minted: the usual cause is a Postgres role that was never
// created for it. It unwraps to the server's error.
type roleHintError struct {
	err  error
	role string
}

func (e *roleHintError) Error() string { return fmt.Sprintf("%v (%s)", e.err, e.Hint()) }

func (e *roleHintError) Unwrap() error { return e.err }

// Hint says how to create the missing role; `lakebase ping` prints it as
// its hint.
func (e *roleHintError) Hint() string {
	kind := "GROUP" // the role of a group the identity belongs to
	if strings.Contains(e.role, "@") {
		kind = "USER"
	} else if _, err := uuid.Parse(e.role); err == nil {
		kind = "SERVICE_PRINCIPAL"
	}
	literal := strings.ReplaceAll(e.role, "'", "''")
	return fmt.Sprintf("the Postgres role %q may not exist for this identity: a database superuser creates it with "+
		"CREATE EXTENSION IF NOT EXISTS databricks_auth; SELECT databricks_create_role('%s', '%s'); "+
		"a Databricks App gets its role when the database is added as an app resource", e.role, literal, kind)
}
