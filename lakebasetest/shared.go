package lakebasetest

import (
	"context"
	"errors"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Shared is one kit for all the tests of a package, started by the first
// test that asks for it, so that the package starts one server however many
// tests it has. Close it in TestMain, after m.Run. The zero value uses the
// zero Options; a Shared must not be copied.
type Shared struct {
	// Options configure the kit; set them before the first Kit call.
	Options Options

	once sync.Once
	kit  *Kit
	err  error
}

// Kit returns the shared kit, starting it on first use, on the server
// LAKEBASE_TEST_POSTGRES_URL names as New does. When it cannot start, it
// ends tb as Require does.
func (s *Shared) Kit(tb testing.TB) *Kit {
	tb.Helper()
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		opts := s.Options
		opts.Postgres = postgresFromEnv(opts.Postgres)
		s.kit, s.err = Start(ctx, opts)
	})
	Require(tb, s.err)
	return s.kit
}

// Close closes the kit if a test started it.
func (s *Shared) Close() error {
	if s.kit == nil {
		return nil
	}
	return s.kit.Close()
}

// Require ends tb if err, from Start, StartPostgres or Kit.StartPgBouncer,
// is not nil. When the kit lacks a program (ErrPostgresNotFound: no
// PostgreSQL installed and none could be downloaded; ErrPgBouncerNotFound:
// no pgbouncer for the pooled hosts) it skips the test, unless the
// environment variable CI is true, where it fails the test instead; any
// other error fails it. The first test it skips in a process for each
// program gives the reason, in one line that says how to get it; later ones
// skip without repeating it.
func Require(tb testing.TB, err error) {
	tb.Helper()
	for _, missing := range []struct {
		err  error
		once *sync.Once
	}{{ErrPostgresNotFound, &skipPostgres}, {ErrPgBouncerNotFound, &skipPgBouncer}} {
		if !errors.Is(err, missing.err) {
			continue
		}
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			tb.Fatal(err)
		}
		first := false
		missing.once.Do(func() { first = true })
		if first {
			tb.Skip(err)
		}
		tb.SkipNow()
	}
	if err != nil {
		tb.Fatal(err)
	}
}

// skipPostgres and skipPgBouncer let Require give each reason once per
// process.
var skipPostgres, skipPgBouncer sync.Once
