package lakebase

import (
	"context"
	"fmt"
	"log/slog"
	"time"
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
