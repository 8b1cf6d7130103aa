package lakebase

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/lakebase-go/lakebase/internal/backoff"
	"github.com/lakebase-go/lakebase/internal/controlplane"
	"github.com/lakebase-go/lakebase/internal/credcache"
)

// Token is a credential that Lakebase accepts as the Postgres password: an
// OAuth access token minted for one identity and one instance or endpoint.
//
// Its String, GoString and LogValue never show Value, so a Token can be
// logged or printed with %v and %+v without leaking it.
type Token struct {
	// Value is the secret sent as the Postgres password.
	Value string
	// Expiry is when the server stops accepting Value for new logins. The
	// zero time means the token carries no expiry: the driver then asks its
	// TokenSource again for every new connection.
	Expiry time.Time
}

// TokenSource supplies credentials for new connections. Implementations must
// be safe for concurrent use and should honour ctx.
type TokenSource interface {
	Token(ctx context.Context) (Token, error)
}

// TokenSourceFunc adapts a function to a TokenSource.
type TokenSourceFunc func(ctx context.Context) (Token, error)

// Token calls f(ctx).
func (f TokenSourceFunc) Token(ctx context.Context) (Token, error) { return f(ctx) }

// String describes the token without its value.
func (t Token) String() string {
	if t.Expiry.IsZero() {
		return "Token(redacted)"
	}
	return fmt.Sprintf("Token(redacted, expires %s)", t.Expiry.UTC().Format(time.RFC3339))
}

// GoString is String, so that %#v does not print the value either.
func (t Token) GoString() string { return t.String() }

// LogValue lets log/slog record the expiry but never the value.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(slog.String("value", redacted), slog.Time("expiry", t.Expiry))
}

// redacted stands in for every secret that a description of a value leaves out.
const redacted = "[redacted]"

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

func (staticPassword) confirmed(Token) {}

func (staticPassword) rejected(Token) bool { return false }

func (staticPassword) close() {}

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

func (c cachedCredentials) confirmed(cred Token) { c.cache.Confirm(cred.Value) }

func (c cachedCredentials) rejected(cred Token) bool { return c.cache.Invalidate(cred.Value) }

func (c cachedCredentials) close() { c.cache.Close() }

// mintFetcher mints a credential of the workspace identity for the target,
// living ttl (endpoints only) and scoped by claims.
func (t *lookedUp) mintFetcher(ttl time.Duration, claims []controlplane.Claim) credcache.Fetcher {
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
			return client.MintForInstance(ctx, target.instance, claims)
		}
		return client.MintForEndpoint(ctx, target.endpoint, ttl, claims)
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
