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
	// cached is true when the credential came from a cache that can drop it
	// and mint another: a login it failed may be retried once.
	cached bool
}

// credentialSource gives each new connection its password.
type credentialSource interface {
	credential(ctx context.Context) (credential, error)
	// rejected tells the source that the server refused cred at login.
	rejected(cred credential)
	// close stops any background work.
	close()
}

// staticPassword is a native Postgres role's password.
type staticPassword string

func (p staticPassword) credential(context.Context) (credential, error) {
	return credential{Value: string(p)}, nil
}
func (staticPassword) rejected(credential) {}
func (staticPassword) close()              {}

// errEmptyToken is returned when a TokenSource gives an empty token.
var errEmptyToken = errors.New("token source returned an empty token")
