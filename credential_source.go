package lakebase

import (
	"context"
	"errors"
	"time"

	"github.com/lakebase-go/lakebase/internal/backoff"
	"github.com/lakebase-go/lakebase/internal/credcache"
)

// credentialSource gives each new connection its password, as a Token.
type credentialSource interface {
	credential(ctx context.Context) (Token, error)
	// confirmed tells the source that a login succeeded with cred.
	confirmed(cred Token)
	// rejected tells the source that the server refused cred at login, and
	// reports whether a login with the next credential makes sense: the
	// source no longer hands cred out.
	rejected(cred Token) bool
	// close stops any background work.
	close()
}

// staticPassword is a native Postgres role's password.
type staticPassword string

func (p staticPassword) credential(context.Context) (Token, error) {
	return Token{Value: string(p)}, nil
}
func (staticPassword) confirmed(Token)     {}
func (staticPassword) rejected(Token) bool { return false }
func (staticPassword) close()              {}

// cachedCredentials serves credentials from the connector's cache, which
// mints them through a credcache.Fetcher: mintFetcher or tokenSourceFetcher.
type cachedCredentials struct{ cache *credcache.Cache }

func (c cachedCredentials) credential(ctx context.Context) (Token, error) {
	value, expiry, err := c.cache.Get(ctx)
	if err != nil {
		return Token{}, err
	}
	return Token{Value: value, Expiry: expiry}, nil
}

func (c cachedCredentials) confirmed(cred Token)     { c.cache.Confirm(cred.Value) }
func (c cachedCredentials) rejected(cred Token) bool { return c.cache.Invalidate(cred.Value) }
func (c cachedCredentials) close()                   { c.cache.Close() }

// mintFetcher mints a credential of the workspace identity for the target.
func (t *lookedUp) mintFetcher(ttl time.Duration) credcache.Fetcher {
	return func(ctx context.Context) (string, time.Time, error) {
		client, err := t.client.Get(ctx)
		if err != nil {
			return "", time.Time{}, backoffCause(err)
		}
		target, err := t.target(ctx)
		if err != nil {
			return "", time.Time{}, backoffCause(err)
		}
		if target.instance != "" {
			return client.MintForInstance(ctx, target.instance)
		}
		return client.MintForEndpoint(ctx, target.endpoint, ttl)
	}
}

// backoffCause is the failure behind a lookup's backoff: the credential
// cache, which backs off failed mints itself, says when it tries next, and
// saying it twice would confuse.
func backoffCause(err error) error {
	if be, ok := err.(*backoff.Error); ok {
		return be.Err
	}
	return err
}

// errEmptyToken is returned when a TokenSource gives an empty token.
var errEmptyToken = errors.New("token source returned an empty token")

// tokenSourceFetcher asks the caller's TokenSource.
func tokenSourceFetcher(src TokenSource) credcache.Fetcher {
	return func(ctx context.Context) (string, time.Time, error) {
		tok, err := src.Token(ctx)
		if err == nil && tok.Value == "" {
			err = errEmptyToken
		}
		if err != nil {
			return "", time.Time{}, err
		}
		return tok.Value, tok.Expiry, nil
	}
}
