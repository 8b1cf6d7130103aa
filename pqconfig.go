package lakebase

import (
	"fmt"
	"strings"

	"github.com/lib/pq"
)

// basePQConfig builds the lib/pq configuration that every connection of a
// connector starts from. Host, port, user and password are set per connection
// (they come from lookups and credentials), so they are left as placeholders
// here. lib/pq reads its own PG* environment variables for the keys the
// Config leaves open, as libpq does.
func basePQConfig(c *Config) (pq.Config, error) {
	var b strings.Builder
	write := func(key, value string) {
		b.WriteString(key)
		b.WriteByte('=')
		b.WriteString(quoteValue(value))
		b.WriteByte(' ')
	}
	// The placeholders keep lib/pq from looking up the operating system
	// user, which fails in some containers.
	write("host", "localhost")
	write("user", "lakebase")
	write("dbname", c.DBName)
	write("sslmode", c.SSLMode)
	for k, v := range c.Params {
		write(k, v)
	}
	pc, err := pq.NewConfig(b.String())
	if err != nil {
		// lib/pq's messages name the key and never a password: the base
		// configuration holds none.
		return pq.Config{}, fmt.Errorf("%w: lib/pq: %v", ErrInvalidDSN, strings.TrimPrefix(err.Error(), "pq: "))
	}
	return pc, nil
}
