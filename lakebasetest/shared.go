package lakebasetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase/internal/testenv"
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
// ends tb as New does.
func (s *Shared) Kit(tb testing.TB) *Kit {
	tb.Helper()
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		s.kit, s.err = Start(ctx, withServerFromEnv(s.Options))
	})
	testenv.Require(tb, s.err)
	return s.kit
}

// Close closes the kit if a test started it.
func (s *Shared) Close() error {
	if s.kit == nil {
		return nil
	}
	return s.kit.Close()
}
