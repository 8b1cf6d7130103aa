package main

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// skipWithoutDemoServer skips the test when the demo r could not start for
// want of PostgreSQL, except under CI.
func skipWithoutDemoServer(t *testing.T, r result) {
	t.Helper()
	if r.code != exitOK && strings.Contains(r.stderr, "install PostgreSQL's server binaries") && os.Getenv("CI") != "true" {
		t.Skip("PostgreSQL server binaries are not installed (apt-get install postgresql)")
	}
}

// summaryCount returns the number after label in a demo's summary, or -1.
func summaryCount(out, label string) int {
	m := regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(label) + ` +(\d+)`).FindStringSubmatch(out)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// checkSummary fails the test unless out ends with a summary whose counts
// are all present and non-zero, with no failed query.
func checkSummary(t *testing.T, r result) {
	t.Helper()
	for _, label := range []string{"queries", "connections opened", "credentials minted", "rotations survived"} {
		if n := summaryCount(r.stdout, label); n <= 0 {
			t.Errorf("summary count %q is %d, want > 0:\n%v", label, n, r)
		}
	}
	if n := summaryCount(r.stdout, "failed queries"); n != 0 {
		t.Errorf("failed queries: %d, want 0:\n%v", n, r)
	}
	if !regexp.MustCompile(`(?m)^  slowest connect +\d`).MatchString(r.stdout) {
		t.Errorf("summary lacks the slowest connect:\n%v", r)
	}
}

func TestDemo(t *testing.T) {
	r := runCmd("demo", "--duration", "6s", "--lifetime", "2s", "--workers", "3")
	skipWithoutDemoServer(t, r)
	if r.code != exitOK {
		t.Fatalf("demo failed:\n%v", r)
	}
	checkSummary(t, r)
	if !regexp.MustCompile(`(?m)^ +\d+\.\ds  queries \d+  failed 0  connections \d+  credentials \d+  current credential expires in`).MatchString(r.stdout) {
		t.Errorf("no plain progress line:\n%v", r)
	}
	t.Logf("\n%s", r.stdout)
}
