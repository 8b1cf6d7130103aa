package lakebase

import (
	"context"
	"time"

	"github.com/lakebase-go/lakebase/internal/backoff"
	"github.com/lakebase-go/lakebase/internal/credcache"
)

// mintFetcher mints a credential of the workspace identity for the target.
func (t *lookedUp) mintFetcher(ttl time.Duration) credcache.Fetcher {
	return func(ctx context.Context) (credcache.Credential, error) {
		client, err := t.client.get(ctx)
		if err != nil {
			return credcache.Credential{}, backoffCause(err)
		}
		target, err := t.target(ctx)
		if err != nil {
			return credcache.Credential{}, backoffCause(err)
		}
		var cred credcache.Credential
		if target.instance != "" {
			cred.Value, cred.Expiry, err = client.MintForInstance(ctx, target.instance)
		} else {
			cred.Value, cred.Expiry, err = client.MintForEndpoint(ctx, target.endpoint, ttl)
		}
		return cred, err
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

// tokenSourceFetcher asks the caller's TokenSource.
func tokenSourceFetcher(src TokenSource) credcache.Fetcher {
	return func(ctx context.Context) (credcache.Credential, error) {
		tok, err := src.Token(ctx)
		if err != nil {
			return credcache.Credential{}, err
		}
		if tok.Value == "" {
			return credcache.Credential{}, errEmptyToken
		}
		return credcache.Credential{Value: tok.Value, Expiry: tok.Expiry}, nil
	}
}

// cachedCredentials serves credentials from the connector's cache.
type cachedCredentials struct{ cache *credcache.Cache }

func (c cachedCredentials) credential(ctx context.Context) (credential, error) {
	cred, err := c.cache.Get(ctx)
	if err != nil {
		return credential{}, err
	}
	return credential{Value: cred.Value, Expiry: cred.Expiry}, nil
}

func (c cachedCredentials) confirmed(cred credential)     { c.cache.Confirm(cred.Value) }
func (c cachedCredentials) rejected(cred credential) bool { return c.cache.Invalidate(cred.Value) }
func (c cachedCredentials) close()                        { c.cache.Close() }
