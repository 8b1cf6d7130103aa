package pgserver

import (
	"context"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase/internal/testenv"
)

// New starts a throwaway PostgreSQL server for a test, or uses the existing
// server that the environment variable LAKEBASE_TEST_POSTGRES_URL names,
// and stops it when the test ends. Without PostgreSQL (none installed, no
// download) it skips the test, unless the environment variable CI is true,
// where it fails the test instead; the first test it skips in a process
// gives the reason.
func New(t testing.TB) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := Start(ctx, Options{URL: testenv.ServerURL("", false)})
	testenv.Require(t, err)
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
