package credcache

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Credential is a secret presented as the Postgres password, and when it
// stops being accepted.
//
// Its String, GoString and LogValue never show Value.
type Credential struct {
	// Value is the secret.
	Value string
	// Expiry is when the server stops accepting Value for new logins. The zero
	// time means unknown: such a credential is never cached.
	Expiry time.Time
}

// Fetcher mints one credential, usually with a network call. It should honour
// ctx. The cache never calls it twice at once.
type Fetcher func(ctx context.Context) (Credential, error)

// String describes the credential without its value.
func (c Credential) String() string {
	if c.Expiry.IsZero() {
		return "Credential(redacted)"
	}
	return fmt.Sprintf("Credential(redacted, expires %s)", c.Expiry.UTC().Format(time.RFC3339))
}

// GoString is String, so that %#v does not print the value either.
func (c Credential) GoString() string { return c.String() }

// LogValue lets log/slog record the expiry but never the value.
func (c Credential) LogValue() slog.Value {
	return slog.GroupValue(slog.String("value", "[redacted]"), slog.Time("expiry", c.Expiry))
}
