package lakebase

import (
	"context"
	"errors"
	"time"
)

// credential is the password of one login attempt.
type credential struct {
	Value  string
	Expiry time.Time
}

// credentialSource gives each new connection its password.
type credentialSource interface {
	credential(ctx context.Context) (credential, error)
	// confirmed tells the source that a login succeeded with cred.
	confirmed(cred credential)
	// rejected tells the source that the server refused cred at login, and
	// reports whether a login with the next credential makes sense: the
	// source no longer hands cred out.
	rejected(cred credential) bool
	// close stops any background work.
	close()
}

// staticPassword is a native Postgres role's password.
type staticPassword string

func (p staticPassword) credential(context.Context) (credential, error) {
	return credential{Value: string(p)}, nil
}
func (staticPassword) confirmed(credential)     {}
func (staticPassword) rejected(credential) bool { return false }
func (staticPassword) close()                   {}

// errEmptyToken is returned when a TokenSource gives an empty token.
var errEmptyToken = errors.New("token source returned an empty token")
