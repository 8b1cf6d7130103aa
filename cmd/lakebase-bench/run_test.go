package main

import (
	"errors"
	"fmt"
	"testing"

	"github.com/lakebase-go/lakebase/lakebasetest/pgserver"
)

func TestSkipPooler(t *testing.T) {
	missing := fmt.Errorf("bench: %w: install it", pgserver.ErrPgBouncerNotFound)
	for _, tc := range []struct {
		ci   string
		err  error
		want bool
	}{
		{"", missing, true},
		{"false", missing, true},
		{"true", missing, false},
		{"", errors.New("lakebasetest: pgbouncer exited at start"), false},
		{"", nil, false},
	} {
		t.Setenv("CI", tc.ci)
		if got := skipPooler(tc.err); got != tc.want {
			t.Errorf("CI=%q, skipPooler(%v) = %v, want %v", tc.ci, tc.err, got, tc.want)
		}
	}
}
