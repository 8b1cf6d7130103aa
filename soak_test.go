package lakebase_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
)

// The soak: 64 workers read, write and run transactions through one sql.DB
// whose connections are churned every second, with credentials living three
// seconds, while the workspace throttles mints, credentials are revoked and
// the gateway restarts, at random. It runs 15 seconds by default (the test
// command); LAKEBASE_SOAK=10m runs it for ten minutes (give go test a longer
// -timeout), LAKEBASE_SOAK_SEED=n repeats a run's faults.
//
// It checks that every acknowledged write is read back exactly once, that
// no row is written twice, that no error happens outside a fault's window,
// and that goroutines and the heap come back to where they were after Close.
func TestSoak(t *testing.T) {
	duration := 15 * time.Second
	if v := os.Getenv("LAKEBASE_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("LAKEBASE_SOAK=%q is not a duration", v)
		}
		duration = d
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("LAKEBASE_SOAK_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("LAKEBASE_SOAK_SEED=%q is not a number", v)
		}
		seed = s
	}
	const (
		workers = 64
		conns   = 32 // the pool: workers wait for connections too
	)
	var (
		churn    = scaled(2 * time.Second) // SetConnMaxLifetime
		lifetime = scaled(5 * time.Second) // of a credential
	)
	e := newFaultEnv(t)
	s := &soak{e: e, table: "soak_" + strings.ReplaceAll(e.instance, "-", "_"), rng: rand.New(rand.NewPCG(seed, seed))}
	e.kit.Workspace.SetCredentialLifetime(lifetime)

	runtime.GC()
	goroutinesBefore, heapBefore, baseline := runtime.NumGoroutine(), heapInUse(), goroutineIDs()
	// Logins take hundreds of milliseconds while 32 happen at once on a
	// small machine under the race detector: a safety margin of a tenth of
	// the lifetime would not cover them, as a tenth of an hour does.
	db, c := e.open(e.dsn(), func(cfg *lakebase.Config) {
		cfg.SafetyMargin = scaled(1500 * time.Millisecond)
		cfg.RefreshWindow = scaled(2500 * time.Millisecond)
	})
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxLifetime(churn)
	s.setUp(t, db, workers)
	mintsBefore, loginsBefore := e.kit.Workspace.MintsForInstance(e.instance), e.gateway.Stats().Accepted

	ctx, stop := context.WithTimeout(context.Background(), duration)
	defer stop()
	var wg sync.WaitGroup
	peak := s.watchGoroutines(ctx, &wg)
	wg.Go(func() { s.injectFaults(ctx) })
	results := make([]*soakWorker, workers)
	start := time.Now()
	for w := range results {
		results[w] = &soakWorker{id: w, rng: rand.New(rand.NewPCG(seed, uint64(w)))}
		wg.Go(func() { results[w].run(ctx, s, db) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	mints, logins := e.kit.Workspace.MintsForInstance(e.instance)-mintsBefore, e.gateway.Stats().Accepted-loginsBefore
	retries := c.Stats().LoginRetries
	_ = db.Close()

	s.verify(t, results)
	e.waitNoLeaks()
	left := settledGoroutines(baseline)
	goroutinesAfter := runtime.NumGoroutine()
	runtime.GC()
	heapAfter := heapInUse()

	var ops, acked int
	unexpected, expected := map[string]int{}, map[string]int{}
	for _, r := range results {
		ops += r.ops
		acked += len(r.acked)
		for _, f := range r.failures {
			if kind := s.window(f.start, f.end); kind != "" {
				expected[kind+": "+f.kind]++
			} else {
				unexpected[f.kind]++
				if unexpected[f.kind] <= 3 {
					t.Errorf("error outside any fault window at %s: %s", f.start.Sub(start).Round(time.Millisecond), f.text)
				}
			}
		}
	}
	t.Logf("soak: %s, %d workers, %d connections living %s, credentials living %s, seed %d", duration, workers, conns, churn, lifetime, seed)
	t.Logf("soak: %d operations, %.0f a second; %d acknowledged writes, every one read back, none twice: %v",
		ops, float64(ops)/elapsed.Seconds(), acked, !t.Failed())
	t.Logf("soak: faults injected: %s", s.faultCounts())
	t.Logf("soak: errors in fault windows: %s", formatCounts(expected))
	t.Logf("soak: errors outside fault windows: %s", formatCounts(unexpected))
	t.Logf("soak: %d mints, %d logins, %d logins retried with a new credential", mints, logins, retries)
	t.Logf("soak: goroutines %d before, peak %d, %d after Close (idle HTTP connections included); heap in use %.1f MiB before, %.1f MiB after",
		goroutinesBefore, peak.Load(), goroutinesAfter, mib(heapBefore), mib(heapAfter))
	if len(left) > 0 {
		t.Errorf("%d goroutines started during the soak are left after Close:\n%s", len(left), strings.Join(left, "\n\n"))
	}
	if heapAfter > heapBefore+32<<20 {
		t.Errorf("heap in use %.1f MiB after Close, %.1f MiB before", mib(heapAfter), mib(heapBefore))
	}
	if ops < workers {
		t.Errorf("only %d operations", ops)
	}
}

// soak is one soak run's shared state.
type soak struct {
	e     *faultEnv
	table string
	rng   *rand.Rand // the injector's only

	mu     sync.Mutex
	faults []soakFault
}

// soakFault is a fault injected, and how long errors are expected after it.
type soakFault struct {
	kind  string
	at    time.Time
	until time.Time
}

// setUp creates the soak's tables.
func (s *soak) setUp(t *testing.T, db *sql.DB, workers int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, q := range []string{
		fmt.Sprintf("CREATE TABLE %s (worker int NOT NULL, seq int NOT NULL, kind text NOT NULL)", s.table),
		fmt.Sprintf("CREATE TABLE %s_tx (worker int PRIMARY KEY, n int NOT NULL)", s.table),
		fmt.Sprintf("INSERT INTO %s_tx SELECT w, 0 FROM generate_series(0, %d) w", s.table, workers-1),
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(s.e.record(err))
		}
	}
}

// injectFaults injects one of faults 1, 4 and 5 every one to two and a half
// seconds until ctx ends.
func (s *soak) injectFaults(ctx context.Context) {
	k := s.e.kit
	for {
		pause := time.Second + time.Duration(s.rng.Int64N(int64(1500*time.Millisecond)))
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		now := time.Now()
		f := soakFault{at: now, until: now.Add(time.Second)}
		switch s.rng.IntN(3) {
		case 0:
			f.kind = "throttled mint"
			f.until = now.Add(2 * time.Second) // Retry-After and a little
			k.Workspace.Fail("database-credential",
				lakebasetest.Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Second, Times: 1})
		case 1:
			f.kind = "credentials revoked"
			k.RevokeCredentials()
		case 2:
			f.kind = "gateway restart"
			s.e.gateway.Restart()
		}
		s.mu.Lock()
		s.faults = append(s.faults, f)
		s.mu.Unlock()
	}
}

// window names the last fault before end whose window [at, until]
// overlaps the operation's [start, end], or returns "".
func (s *soak) window(start, end time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.faults) - 1; i >= 0; i-- {
		if f := s.faults[i]; !start.After(f.until) && !end.Before(f.at) {
			return f.kind
		}
	}
	return ""
}

func (s *soak) faultCounts() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	counts := map[string]int{}
	for _, f := range s.faults {
		counts[f.kind]++
	}
	return formatCounts(counts)
}

// watchGoroutines samples the number of goroutines until ctx ends.
func (s *soak) watchGoroutines(ctx context.Context, wg *sync.WaitGroup) *atomic.Int64 {
	var peak atomic.Int64
	wg.Go(func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			if n := int64(runtime.NumGoroutine()); n > peak.Load() {
				peak.Store(n)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	return &peak
}

// verify reads the table back with a connection of its own: every
// acknowledged row is there once, no row is there twice, and each worker's
// transaction count lies between its acknowledged and its attempted
// transactions.
func (s *soak) verify(t *testing.T, workers []*soakWorker) {
	t.Helper()
	db, _ := s.e.open(s.e.dsn())
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rows, err := db.QueryContext(ctx, fmt.Sprintf("SELECT worker, seq, count(*) FROM %s GROUP BY 1, 2", s.table))
	if err != nil {
		t.Fatal(s.e.record(err))
	}
	found := map[[2]int]int{}
	for rows.Next() {
		var w, seq, n int
		if err := rows.Scan(&w, &seq, &n); err != nil {
			t.Fatal(err)
		}
		found[[2]int{w, seq}] = n
		if n > 1 {
			t.Errorf("worker %d's row %d is there %d times", w, seq, n)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(s.e.record(err))
	}
	for _, w := range workers {
		for _, seq := range w.acked {
			if found[[2]int{w.id, seq}] == 0 {
				t.Errorf("worker %d's acknowledged row %d is lost", w.id, seq)
			}
		}
		var n int
		q := fmt.Sprintf("SELECT n FROM %s_tx WHERE worker = $1", s.table)
		if err := db.QueryRowContext(ctx, q, w.id).Scan(&n); err != nil {
			t.Fatal(s.e.record(err))
		}
		if n < w.txAcked || n > w.txAcked+w.txUnknown {
			t.Errorf("worker %d: %d transactions committed, want between %d acknowledged and %d attempted",
				w.id, n, w.txAcked, w.txAcked+w.txUnknown)
		}
	}
}

// soakWorker is one worker's own record; only its goroutine touches it
// until the run ends.
type soakWorker struct {
	id  int
	rng *rand.Rand

	seq       int   // the last row number used
	acked     []int // rows whose write was acknowledged
	txAcked   int   // transactions whose commit was acknowledged
	txUnknown int   // transactions whose outcome is unknown
	ops       int
	failures  []soakFailure
}

// soakFailure is one failed operation.
type soakFailure struct {
	start, end time.Time
	kind, text string
}

// run does operations until ctx ends: half reads, a third single-row
// writes, the rest transactions of two rows and a counter.
func (w *soakWorker) run(ctx context.Context, s *soak, db *sql.DB) {
	for ctx.Err() == nil {
		opCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		start := time.Now()
		var err error
		switch p := w.rng.IntN(10); {
		case p < 5:
			err = w.read(opCtx, s, db)
		case p < 8:
			err = w.write(opCtx, s, db)
		default:
			err = w.transaction(opCtx, s, db)
		}
		cancel()
		w.ops++
		if err != nil {
			w.failures = append(w.failures, soakFailure{start: start, end: time.Now(), kind: errorKind(err), text: s.e.record(err).Error()})
		}
	}
}

// read counts the worker's rows: at least every acknowledged one.
func (w *soakWorker) read(ctx context.Context, s *soak, db *sql.DB) error {
	var n int
	q := fmt.Sprintf("SELECT count(*) FROM %s WHERE worker = $1", s.table)
	if err := db.QueryRowContext(ctx, q, w.id).Scan(&n); err != nil {
		return err
	}
	if n < len(w.acked) {
		return fmt.Errorf("read %d rows of worker %d, but %d writes were acknowledged", n, w.id, len(w.acked))
	}
	return nil
}

func (w *soakWorker) write(ctx context.Context, s *soak, db *sql.DB) error {
	w.seq++
	q := fmt.Sprintf("INSERT INTO %s (worker, seq, kind) VALUES ($1, $2, 'single')", s.table)
	if _, err := db.ExecContext(ctx, q, w.id, w.seq); err != nil {
		return err
	}
	w.acked = append(w.acked, w.seq)
	return nil
}

func (w *soakWorker) transaction(ctx context.Context, s *soak, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	w.seq += 2
	q := fmt.Sprintf("INSERT INTO %s (worker, seq, kind) VALUES ($1, $2, 'tx'), ($1, $3, 'tx')", s.table)
	if _, err := tx.ExecContext(ctx, q, w.id, w.seq-1, w.seq); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("UPDATE %s_tx SET n = n + 1 WHERE worker = $1", s.table), w.id); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		w.txUnknown++
		return err
	}
	w.txAcked++
	w.acked = append(w.acked, w.seq-1, w.seq)
	return nil
}

// errorKind sorts an error for the report.
func errorKind(err error) string {
	msg := err.Error()
	for _, kind := range []string{
		"the server closed the connection", "connection reset", "broken pipe", "bad connection",
		"28P01", "28000", "57P01", "deadline exceeded", "throttl", "lost", "acknowledged",
	} {
		if strings.Contains(msg, kind) {
			return kind
		}
	}
	return msg
}

// settledGoroutines waits up to five seconds for the goroutines started since
// baseline to end, and returns those left. Idle HTTP connections are not
// counted: they belong to pools that keep a few per host (the SDK's
// transport, the test's workspace proxy) and end after their idle timeout.
func settledGoroutines(baseline map[string]bool) []string {
	var left []string
	for deadline := time.Now().Add(scaled(5 * time.Second)); ; time.Sleep(50 * time.Millisecond) {
		left = left[:0]
		for _, s := range goroutineStacks() {
			if !baseline[goroutineID(s)] && !idleHTTP(s) {
				left = append(left, s)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
	}
}

// idleHTTP reports whether a goroutine's stack is that of an idle HTTP
// connection, on the client's side or the server's.
func idleHTTP(stack string) bool {
	for _, f := range []string{"net/http.(*persistConn).readLoop", "net/http.(*persistConn).writeLoop", "net/http.(*conn).serve"} {
		if strings.Contains(stack, f) {
			return true
		}
	}
	return false
}

func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// formatCounts writes counts as "a 3, b 1", most first, or "none".
func formatCounts(counts map[string]int) string {
	if len(counts) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if counts[keys[i]] != counts[keys[j]] {
			return counts[keys[i]] > counts[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, counts[k])
	}
	return strings.Join(parts, ", ")
}
