package lakebasetest

import (
	"context"
	"os"
	"testing"
	"time"
)

// NewPostgres starts a throwaway PostgreSQL server for a test (or uses the
// server LAKEBASE_TEST_POSTGRES_URL names: see New) and stops it
// when the test ends.
// Without PostgreSQL (none installed, no download) it skips the test, unless
// the environment variable CI is true, where it fails the test instead.
func NewPostgres(t testing.TB) *Postgres {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := StartPostgres(ctx, postgresFromEnv(PostgresOptions{}))
	Require(t, err)
	t.Cleanup(func() {
		if t.Failed() && p.cluster != nil {
			t.Logf("lakebasetest: end of the server log:\n%s", p.cluster.logTail())
		}
		if err := p.Stop(); err != nil {
			t.Error(err)
		}
	})
	return p
}

// postgresFromEnv is opts with the URL that LAKEBASE_TEST_POSTGRES_URL
// gives, when opts name no server and ask for nothing that only a throwaway
// one has (BinDir, MaxConnections): the test helpers New, NewPostgres and
// Shared.Kit then use the existing server, as the README says; Start and
// StartPostgres take their options as given.
func postgresFromEnv(opts PostgresOptions) PostgresOptions {
	if opts.URL == "" && opts.BinDir == "" && opts.MaxConnections == 0 {
		opts.URL = os.Getenv(postgresURLEnv)
	}
	return opts
}
