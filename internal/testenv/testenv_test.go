package testenv

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// Require skips for a missing program, giving each reason at its first
// skip only, and fails under CI or for any other error.
func TestRequire(t *testing.T) {
	errPostgres, errPgBouncer := errors.New("no postgres"), errors.New("no pgbouncer")
	Missing(errPostgres, errPgBouncer)
	for _, missing := range []error{errPostgres, errPgBouncer} {
		t.Run(missing.Error(), func(t *testing.T) {
			given = sync.Map{}
			t.Setenv("CI", "")
			err := fmt.Errorf("%w: none here", missing)
			first, second := &Recorder{TB: t}, &Recorder{TB: t}
			first.Run(func() { Require(first, err) })
			second.Run(func() { Require(second, err) })
			if !first.Skips || !strings.Contains(first.Said, "none here") {
				t.Errorf("first skip: skipped %v, said %q", first.Skips, first.Said)
			}
			if !second.Skips || second.Said != "" {
				t.Errorf("second skip: skipped %v, said %q; want a skip without the reason again", second.Skips, second.Said)
			}

			t.Setenv("CI", "true")
			ci := &Recorder{TB: t}
			ci.Run(func() { Require(ci, err) })
			if !ci.Fails || ci.Skips || !strings.Contains(ci.Said, "none here") {
				t.Errorf("under CI: ended %v, skipped %v, said %q", ci.Fails, ci.Skips, ci.Said)
			}
		})
	}

	other := &Recorder{TB: t}
	other.Run(func() { Require(other, errors.New("initdb: broken")) })
	if !other.Fails {
		t.Error("another error did not fail the test")
	}
	fine := &Recorder{TB: t}
	fine.Run(func() { Require(fine, nil) })
	if fine.Fails || fine.Skips {
		t.Error("no error ended the test")
	}
}
