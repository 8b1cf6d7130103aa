package lakebasetest

import (
	"context"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase/internal/testenv"
)

// New starts a kit for a test and closes it when the test ends. When the
// environment variable LAKEBASE_TEST_POSTGRES_URL names a server and
// opts.Postgres asks for nothing only a throwaway one has (URL, BinDir,
// MaxConnections), the kit uses that server. Without PostgreSQL (none
// installed, no download), or without PgBouncer where opts.PgBouncer asks
// for it, it skips the test, unless the environment variable CI is true,
// where it fails the test instead; the first test it skips in a process
// gives the reason.
func New(t testing.TB, opts Options) *Kit {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	k, err := Start(ctx, withServerFromEnv(opts))
	testenv.Require(t, err)
	t.Cleanup(func() {
		if err := k.Close(); err != nil {
			t.Error(err)
		}
	})
	return k
}

// withServerFromEnv is opts with the server that LAKEBASE_TEST_POSTGRES_URL
// names, when opts name none and ask for nothing only a throwaway server
// has: the test helpers New and Shared.Kit then use it; Start takes its
// options as given.
func withServerFromEnv(opts Options) Options {
	p := opts.Postgres
	opts.Postgres.URL = testenv.ServerURL(p.URL, p.BinDir != "" || p.MaxConnections != 0)
	return opts
}
