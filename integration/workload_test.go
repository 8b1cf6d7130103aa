package integration_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase/lakebasetest"
)

// The tests that cross credential rotations use credentials that live
// rotationLifetime and keep working for workloadDuration, so that every run
// sees several credentials expire while connections keep being opened.
const (
	rotationLifetime = 3 * time.Second
	workloadDuration = 8 * time.Second
	workers          = 4
)

// newRotatingKit starts a kit whose credentials live rotationLifetime.
func newRotatingKit(t *testing.T) *lakebasetest.Kit {
	t.Helper()
	return lakebasetest.New(t, lakebasetest.Options{CredentialLifetime: rotationLifetime})
}

// openDB opens dsn with the lakebase driver; the DB closes when the test
// ends.
func openDB(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("lakebase", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// runWorkload calls op from several goroutines until workloadDuration has
// passed, each goroutine with its own number and a counter of its calls. It
// fails the test for every error (printing the first few) and returns how
// many calls there were.
func runWorkload(t *testing.T, op func(ctx context.Context, worker, i int) error) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), workloadDuration+30*time.Second)
	defer cancel()
	deadline := time.Now().Add(workloadDuration)

	var (
		mu       sync.Mutex
		calls    int
		failures []error
		wg       sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				err := op(ctx, w, i)
				mu.Lock()
				calls++
				if err != nil {
					failures = append(failures, fmt.Errorf("worker %d, call %d: %w", w, i, err))
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, err := range failures[:min(len(failures), 5)] {
		t.Error(err)
	}
	if len(failures) > 0 {
		t.Errorf("%d of %d calls failed", len(failures), calls)
	}
	return calls
}

// checkRotated fails the test unless the workspace minted more than one
// credential, which proves the workload outlived the first one.
func checkRotated(t *testing.T, kit *lakebasetest.Kit, calls int) {
	t.Helper()
	mints := kit.Workspace.Mints()
	if mints < 2 {
		t.Errorf("workspace minted %d credential(s) during %v of work with %v credentials; want a rotation", mints, workloadDuration, rotationLifetime)
	}
	t.Logf("%d calls, %d credentials minted", calls, mints)
}
