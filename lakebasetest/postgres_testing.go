package lakebasetest

import (
	"context"
	"os"
	"testing"
	"time"
)

// NewPostgres starts a throwaway PostgreSQL server for a test (or uses the
// server LAKEBASE_TEST_POSTGRES_URL names) and stops it when the test ends.
// Without PostgreSQL (none installed, no download) it skips the test, unless
// the environment variable CI is true, where it fails the test instead.
func NewPostgres(t testing.TB) *Postgres {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := StartPostgres(ctx, PostgresOptions{URL: os.Getenv(postgresURLEnv)})
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
