package lakebase_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase/internal/leakcheck"
	"github.com/lakebase-go/lakebase/lakebasetest"
)

func TestMain(m *testing.M) {
	leakcheck.Main(m, kitShared.Close, faultKit.shared.Close, func() error {
		if sharedServer == nil {
			return nil
		}
		return sharedServer.Stop()
	}, func() error {
		if restartServer == nil {
			return nil
		}
		return restartServer.Stop()
	})
}

var (
	serverOnce   sync.Once
	sharedServer *lakebasetest.Postgres
	serverErr    error
)

// testServer returns the PostgreSQL server shared by this package's tests,
// started on first use. Without PostgreSQL it skips, except under CI.
func testServer(t *testing.T) *lakebasetest.Postgres {
	t.Helper()
	serverOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		sharedServer, serverErr = lakebasetest.StartPostgres(ctx, lakebasetest.PostgresOptions{})
	})
	lakebasetest.Require(t, serverErr)
	return sharedServer
}
