// Package leakcheck finds the goroutines that tests leave behind, for the
// TestMain of every package of the project.
package leakcheck

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// options ignore the one goroutine that is not the project's to stop:
// opencensus's view worker, which an init function of
// go.opencensus.io/stats/view (imported through the Databricks SDK's Google
// login) starts when the program loads. It is process-wide: it runs before
// any connector exists, for none of them, and stopping it would break every
// other user of opencensus in the process. Nothing the driver or the SDK
// starts for a connector is ignored.
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
