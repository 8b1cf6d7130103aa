package controlplane

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// DefaultCredentialLifetime is how long a credential lives when the
// workspace does not say, or says it in a form no one can read: the hour
// that Lakebase documents.
const DefaultCredentialLifetime = time.Hour

// ParseExpiry parses a credential's expiry as the workspace writes it
// (expiration_time, expire_time): any RFC 3339 date-time, that is with or
// without fractional seconds (more than nine digits are truncated), in any
// offset, with "T" and "Z" in either case or a space between date and time
// (RFC 3339, section 5.6), and a leap second 60. The result is in UTC,
// between the years 1 and 9999 so that it formats back to RFC 3339.
func ParseExpiry(s string) (time.Time, error) {
	norm, leap := normalizeRFC3339(s)
	// RFC3339Nano's layout also accepts a time without fractional seconds.
	t, err := time.Parse(time.RFC3339Nano, norm)
	if err != nil {
		return time.Time{}, fmt.Errorf("expiry %q is not an RFC 3339 time", truncate(s, 64))
	}
	t = t.Add(leap).UTC()
	if y := t.Year(); y < 1 || y > 9999 {
		return time.Time{}, fmt.Errorf("expiry %q is out of range", truncate(s, 64))
	}
	return t, nil
}

// normalizeRFC3339 rewrites the forms of RFC 3339 that Go's layout does not
// take into the one it does: an upper-case "T" separator and "Z", and a
// leap second written as 59 (the second it stands for is returned, to add).
func normalizeRFC3339(s string) (string, time.Duration) {
	// "2006-01-02T15:04:05": the separator is byte 10, the seconds bytes 17-18.
	if len(s) < len("2006-01-02T15:04:05Z") {
		return s, 0
	}
	b := []byte(s)
	if c := b[10]; c == 't' || c == ' ' {
		b[10] = 'T'
	}
	if b[len(b)-1] == 'z' {
		b[len(b)-1] = 'Z'
	}
	var leap time.Duration
	if b[16] == ':' && b[17] == '6' && b[18] == '0' {
		b[18] = '9'
		b[17] = '5'
		leap = time.Second
	}
	return string(b), leap
}

// expiryOr is the expiry a mint reports: the workspace's (raw, in RFC
// 3339), or, when it gave none or none that parses, started (the time the
// request was sent) plus lifetime, logged at debug, so that the credential
// is still cached rather than minted again for every connection.
func (c *Client) expiryOr(ctx context.Context, target, raw string, started time.Time, lifetime time.Duration) time.Time {
	if raw != "" {
		t, err := ParseExpiry(strings.TrimSpace(raw))
		if err == nil {
			return t
		}
		c.debug(ctx, "lakebase: mint: the credential's expiry is unreadable; assuming its documented lifetime",
			slog.String("target", target), slog.String("error", err.Error()), slog.Duration("lifetime", lifetime))
	} else {
		c.debug(ctx, "lakebase: mint: the workspace gave no expiry; assuming the credential's documented lifetime",
			slog.String("target", target), slog.Duration("lifetime", lifetime))
	}
	return started.Add(lifetime).Round(0).UTC()
}

// debug logs msg at debug level to the user's logger, if any.
func (c *Client) debug(ctx context.Context, msg string, attrs ...slog.Attr) {
	if c.log != nil {
		c.log.LogAttrs(ctx, slog.LevelDebug, msg, attrs...)
	}
}

// truncate shortens s to at most n bytes for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
