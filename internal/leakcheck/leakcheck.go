// Package leakcheck finds the goroutines that tests leave behind, for the
// TestMain of every package of the project.
package leakcheck

import (
	"testing"

	"go.uber.org/goleak"
)

// options ignore the one goroutine that is not the project's to stop: the
// Databricks SDK's opencensus dependency starts a worker when it loads.
var options = []goleak.Option{goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start")}

// Find reports the goroutines still running, other than the ignored one.
func Find() error { return goleak.Find(options...) }

// VerifyTestMain runs the tests and fails them if goroutines are left behind.
func VerifyTestMain(m *testing.M) { goleak.VerifyTestMain(m, options...) }
