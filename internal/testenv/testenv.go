// Package testenv holds what the tests and the kit's test helpers share:
// how they end a test that lacks a program the kit runs, and the
// environment variable that names an existing server.
package testenv

import (
	"errors"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
)

// PostgresURLEnv names the environment variable that the test helpers read:
// a superuser's postgres:// URL of an existing server to use instead of
// starting a throwaway one.
const PostgresURLEnv = "LAKEBASE_TEST_POSTGRES_URL"

// ServerURL is url, or, when url is empty and the caller asks for nothing
// that only a throwaway server has (throwaway false), the URL that
// PostgresURLEnv gives.
func ServerURL(url string, throwaway bool) string {
	if url == "" && !throwaway {
		return os.Getenv(PostgresURLEnv)
	}
	return url
}

// missing are the errors that say a program is missing, as Missing
// registered them.
var (
	missingMu sync.Mutex
	missing   []error
)

// Missing registers errs as errors that mean a program the kit runs is not
// installed, for Require. The package that defines them calls it in init.
func Missing(errs ...error) {
	missingMu.Lock()
	defer missingMu.Unlock()
	missing = append(missing, errs...)
}

// given records, for each error of missing, that a test has given it as
// its reason to skip.
var given sync.Map

// Require ends tb if err is not nil. Where err wraps an error registered
// with Missing it skips tb, unless the environment variable CI is true,
// where it fails it; the first test it skips in a process for each gives
// the reason, later ones skip without repeating it. Any other error fails
// tb.
func Require(tb testing.TB, err error) {
	tb.Helper()
	if err == nil {
		return
	}
	missingMu.Lock()
	known := slices.Clone(missing)
	missingMu.Unlock()
	for _, m := range known {
		if !errors.Is(err, m) {
			continue
		}
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			tb.Fatal(err)
		}
		if _, repeated := given.LoadOrStore(m, true); !repeated {
			tb.Skip(err)
		}
		tb.SkipNow()
	}
	tb.Fatal(err)
}
