package lakebasetest

import (
	"context"
	"testing"
	"time"
)

// New starts a kit for a test and closes it when the test ends. When the
// environment variable LAKEBASE_TEST_POSTGRES_URL names a server and
// opts.Postgres asks for nothing only a throwaway one has (URL, BinDir,
// MaxConnections), the kit uses that server. Without
// PostgreSQL (none installed, no download) it skips the test, unless the
// environment variable CI is true, where it fails the test instead.
func New(t testing.TB, opts Options) *Kit {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opts.Postgres = postgresFromEnv(opts.Postgres)
	k, err := Start(ctx, opts)
	Require(t, err)
	t.Cleanup(func() {
		if err := k.Close(); err != nil {
			t.Error(err)
		}
	})
	return k
}
