package testenv

import (
	"errors"
	"fmt"
	"testing"
)

// Recorder is a testing.TB for tests of helpers that end a test: it records
// how the helper ended it instead of ending it.
type Recorder struct {
	testing.TB
	// Skips and Fails say whether it skipped or failed the test; Said is
	// what it said then.
	Skips, Fails bool
	Said         string
}

// errEnded stands for runtime.Goexit in Recorder.
var errEnded = errors.New("the test ended")

// Run runs f, which may end the test.
func (r *Recorder) Run(f func()) {
	defer func() {
		if v := recover(); v != nil && v != errEnded {
			panic(v)
		}
	}()
	f()
}

func (r *Recorder) Helper() {}

func (r *Recorder) Skip(args ...any) {
	r.Skips, r.Said = true, fmt.Sprint(args...)
	panic(errEnded)
}

func (r *Recorder) SkipNow() { r.Skips = true; panic(errEnded) }

func (r *Recorder) Skipf(format string, args ...any) { r.Skip(fmt.Sprintf(format, args...)) }

func (r *Recorder) Fatal(args ...any) {
	r.Fails, r.Said = true, fmt.Sprint(args...)
	panic(errEnded)
}

func (r *Recorder) Fatalf(format string, args ...any) { r.Fatal(fmt.Sprintf(format, args...)) }
