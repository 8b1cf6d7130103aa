package lakebase

import (
	"time"

	"github.com/lakebase-go/lakebase/internal/pqsession"
)

// The limits of a database/sql connection's age and idleness when the
// Config leaves them zero (see Config.ConnMaxLifetime and ConnMaxIdleTime),
// well inside Lakebase's own: it closes connections idle for 24 hours, and
// may close any connection older than 3 days.
const (
	DefaultConnMaxLifetime = 24 * time.Hour
	DefaultConnMaxIdleTime = time.Hour
)

// NeverRetire, as Config.ConnMaxLifetime or ConnMaxIdleTime, turns that
// retirement off, as 0 does in a DSN. Any negative value means the same.
const NeverRetire time.Duration = -1

// parseConnLimit returns the parser of the retirement key named key: a Go
// duration, 0 for NeverRetire; what names the retirement in its errors.
func parseConnLimit(key, what string) func(string) (time.Duration, error) {
	return func(v string) (time.Duration, error) {
		if v == "" {
			return 0, nil
		}
		d, err := time.ParseDuration(v)
		switch {
		case err != nil:
			return 0, invalidKey(key, "want a duration such as 24h or 90m, or 0 to turn retirement by %s off", what)
		case d < 0:
			return 0, invalidKey(key, "must not be negative; 0 turns retirement by %s off", what)
		case d == 0:
			return NeverRetire, nil
		}
		return d, nil
	}
}

// formatConnLimit writes a retirement limit as parseConnLimit reads it.
func formatConnLimit(d time.Duration) string {
	if d < 0 {
		return "0"
	}
	return d.String()
}

// retirement is when the connections of a connector with Config c retire.
func (c *Config) retirement() pqsession.Retirement {
	return pqsession.Retirement{
		MaxLifetime: connLimit(c.ConnMaxLifetime, DefaultConnMaxLifetime),
		MaxIdleTime: connLimit(c.ConnMaxIdleTime, DefaultConnMaxIdleTime),
	}
}

// connLimit is the limit that d, a Config's, means: zero the default,
// negative none (zero to pqsession).
func connLimit(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}
