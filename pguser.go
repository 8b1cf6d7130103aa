package lakebase

import (
	"context"
	"fmt"
)

// explainUser adds to err, a login refused for its credentials, that the
// role came from PGUSER and is not the identity's user name, when that is
// so and the credential is the workspace identity's: an app or a shell that
// sets PGUSER for another role is a common cause, and the server's own
// message names neither. Anything else returns err as it is.
func (c *Connector) explainUser(ctx context.Context, user string, err error) error {
	if !isAuthFailure(sqlState(err)) || !c.cfg.userFromEnv || c.mode == AuthPassword || c.cfg.TokenSource != nil || c.identityName == nil {
		return err
	}
	name, nerr := c.identityName.Get(ctx)
	if nerr != nil || name == user {
		return err
	}
	return &userFromEnvError{err: err, user: user, identity: name}
}

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

// explainPooler adds to err, a login refused for its credentials, that a
// pooled host refused a minted OAuth credential, when that is so: a pooler
// that takes native roles only answers like a wrong password. Anything else
// returns err as it is.
func (c *Connector) explainPooler(err error) error {
	if !c.cfg.Pooled || c.mode == AuthPassword || !isAuthFailure(sqlState(err)) {
		return err
	}
	return &poolerRefusalError{err: err}
}

// poolerRefusalError is a pooled host's refusal of a minted credential. It
// unwraps to the server's error.
type poolerRefusalError struct{ err error }

func (e *poolerRefusalError) Error() string {
	return fmt.Sprintf("%v (a pooled host refused a freshly minted OAuth credential: this pooler may take native Postgres roles only; "+
		"connect without pooled=true, or log in as a native role with auth=password; see %s)", e.err, poolerDocs)
}

func (e *poolerRefusalError) Unwrap() error { return e.err }
