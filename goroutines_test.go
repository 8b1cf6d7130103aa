package lakebase_test

import (
	"runtime"
	"strings"
)

// The goroutines of the test binary, to find those a test left running.

// goroutineStacks returns the stack of every goroutine but the caller's.
func goroutineStacks() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			stacks := strings.Split(string(buf[:n]), "\n\n")
			return stacks[1:] // the first is the caller's
		}
		buf = make([]byte, 2*len(buf))
	}
}

// goroutinesIn counts the goroutines whose stack holds fn, such as
// "lakebase.(*Connector).Connect(".
func goroutinesIn(fn string) int {
	n := 0
	for _, s := range goroutineStacks() {
		if strings.Contains(s, fn) {
			n++
		}
	}
	return n
}

// goroutineIDs returns the headers ("goroutine 12") of the goroutines now.
func goroutineIDs() map[string]bool {
	ids := make(map[string]bool)
	for _, s := range goroutineStacks() {
		ids[goroutineID(s)] = true
	}
	return ids
}

func goroutineID(stack string) string {
	id, _, _ := strings.Cut(stack, " [")
	return id
}

// driverCode marks the stack frames of the code whose goroutines must end.
var driverCode = []string{
	"github.com/lakebase-go/lakebase.",
	"github.com/lakebase-go/lakebase/internal/",
	"database/sql.",
	"github.com/lib/pq.",
	"github.com/databricks/databricks-sdk-go",
}

// driverGoroutines returns the stacks of the goroutines, not in baseline,
// that run driver code.
func driverGoroutines(baseline map[string]bool) []string {
	var out []string
	for _, s := range goroutineStacks() {
		if baseline[goroutineID(s)] {
			continue
		}
		for _, mark := range driverCode {
			if strings.Contains(s, mark) {
				out = append(out, s)
				break
			}
		}
	}
	return out
}
