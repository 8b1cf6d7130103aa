// Package leakcheck finds the goroutines that tests leave behind, for the
// TestMain of every package of the project.
package leakcheck

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// options ignore the one goroutine that is not the project's to stop: the
// Databricks SDK's opencensus dependency starts a worker when it loads.
var options = []goleak.Option{goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start")}

// VerifyTestMain runs the tests and fails them if goroutines are left behind.
func VerifyTestMain(m *testing.M) { goleak.VerifyTestMain(m, options...) }

// Main runs the tests, then stops what they shared with each of stops, and,
// if all went well, fails the run when goroutines are left behind. It exits
// the process with the run's code.
func Main(m *testing.M, stops ...func() error) {
	code := m.Run()
	for _, stop := range stops {
		if err := stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping what the tests shared:", err)
			code = 1
		}
	}
	if code == 0 {
		if err := goleak.Find(options...); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines left behind:", err)
			code = 1
		}
	}
	os.Exit(code)
}
