package lakebase_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase/internal/leakcheck"
	"github.com/lakebase-go/lakebase/lakebasetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if err := kitShared.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "closing the shared kit:", err)
		code = 1
	}
	if err := faultKit.shared.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the fault tests' kit:", err)
		code = 1
	}
	if sharedServer != nil {
		if err := sharedServer.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the test server:", err)
			code = 1
		}
	}
	if code == 0 {
		if err := leakcheck.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines left behind:", err)
			code = 1
		}
	}
	os.Exit(code)
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
