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
	leakcheck.Main(m, kitShared.Close, faultKit.shared.Close, sharedServer.stop, restartServer.stop)
}

// lazyServer is a PostgreSQL server for this package's tests, started on
// first use (then set up by setup, if set) and stopped by TestMain. Without
// PostgreSQL it skips, except under CI.
type lazyServer struct {
	setup func(context.Context, *lakebasetest.Postgres) error

	once sync.Once
	srv  *lakebasetest.Postgres
	err  error
}

// get returns the server, starting it on first use.
func (l *lazyServer) get(t *testing.T) *lakebasetest.Postgres {
	t.Helper()
	l.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		l.srv, l.err = lakebasetest.StartPostgres(ctx, lakebasetest.PostgresOptions{})
		if l.err == nil && l.setup != nil {
			l.err = l.setup(ctx, l.srv)
		}
	})
	lakebasetest.Require(t, l.err)
	return l.srv
}

// stop stops the server if it was started.
func (l *lazyServer) stop() error {
	if l.srv == nil {
		return nil
	}
	return l.srv.Stop()
}

// sharedServer is the PostgreSQL server shared by this package's tests.
var sharedServer = &lazyServer{}

// testServer returns the shared server.
func testServer(t *testing.T) *lakebasetest.Postgres { return sharedServer.get(t) }
