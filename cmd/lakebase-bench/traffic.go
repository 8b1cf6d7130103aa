package main

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// trafficPlan shrinks time for cases 5 and 6: hour is the real time that
// stands for one hour, and so the lifetime of a credential, as on Lakebase.
// Each strategy runs for hours such hours, with workers goroutines that
// connect and disconnect without pause.
type trafficPlan struct {
	hour    time.Duration
	hours   int
	workers int
}

// scaled returns d of real Lakebase time in the plan's shrunk time.
func (p trafficPlan) scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) / float64(time.Hour) * float64(p.hour))
}

// connectRecord is one connect of the traffic.
type connectRecord struct {
	took   time.Duration
	inside bool // it started inside the refresh window of the credential in use
}

// roundTraffic runs the same traffic through the driver, through a
// credential minted per connection, and through a fixed 15-minute cache,
// with credentials that live one (shrunk) hour. The driver keeps its
// defaults for an hour-long credential, shrunk alike: refresh 5 minutes and
// stop using it 30 seconds before expiry. It records each strategy's
// connect latency and mints per hour, and, for the driver, the slowest
// connect inside and outside the refresh window and the mints per
// credential lifetime.
func (e *Env) roundTraffic(ctx context.Context, plan trafficPlan, r *Results) error {
	e.Kit.Workspace.SetCredentialLifetime(plan.hour)
	defer e.Kit.Workspace.SetCredentialLifetime(0)

	window, margin := plan.scaled(5*time.Minute), plan.scaled(30*time.Second)
	if err := e.trafficDriver(ctx, plan, window, margin, r); err != nil {
		return err
	}
	login, err := e.naiveLogin(ctx)
	if err != nil {
		return err
	}
	minter, err := newNaiveMinter(e.Kit)
	if err != nil {
		return err
	}
	for _, s := range []struct {
		key string
		c   driver.Connector
	}{
		{"mint-per-connection", &mintPerConnection{minter: minter, login: login}},
		{"fixed-15min", &fixedCache{minter: minter, login: login, keep: plan.scaled(15 * time.Minute)}},
	} {
		if err := connectOnce(ctx, s.c); err != nil { // the first mint, as at start-up
			return fmt.Errorf("bench: %s: %w", s.key, err)
		}
		recs, err := traffic(ctx, s.c, plan, nil)
		if err != nil {
			return fmt.Errorf("bench: traffic with %s: %w", s.key, err)
		}
		times := minter.mintTimes()
		if len(times) < 2 {
			return fmt.Errorf("bench: %s minted %d times in %d hours", s.key, len(times), plan.hours)
		}
		// Mints per hour between the first and the last: the steady rate.
		perHour := float64(len(times)-1) / (float64(times[len(times)-1].Sub(times[0])) / float64(plan.hour))
		e.recordTraffic(r, s.key, plan, recs, perHour)
	}
	return nil
}

// trafficDriver runs the traffic through a new lakebase connector.
func (e *Env) trafficDriver(ctx context.Context, plan trafficPlan, window, margin time.Duration, r *Results) error {
	c, err := e.m2mConnector(window, margin)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := connectOnce(ctx, c); err != nil {
		return fmt.Errorf("bench: warm the connector: %w", err)
	}
	identity := e.Kit.ServicePrincipal.ApplicationID
	before := e.Kit.Workspace.MintsFor(identity)

	var mu sync.Mutex
	expiries := map[time.Time]bool{}
	inWindow := func(start time.Time) bool {
		exp := c.Stats().CredentialExpiry
		mu.Lock()
		expiries[exp] = true
		mu.Unlock()
		return !exp.IsZero() && !start.Before(exp.Add(-window))
	}
	recs, err := traffic(ctx, c, plan, inWindow)
	if err != nil {
		return fmt.Errorf("bench: traffic with lakebase: %w", err)
	}
	mints := e.Kit.Workspace.MintsFor(identity) - before

	// Each credential lives one hour from its mint, so the expiries are the
	// mints shifted by an hour; the first is the warm-up's.
	exps := slices.SortedFunc(func(yield func(time.Time) bool) {
		for t := range expiries {
			if !t.IsZero() && !yield(t) {
				return
			}
		}
	}, time.Time.Compare)
	if len(exps) < 2 || mints == 0 {
		return fmt.Errorf("bench: lakebase rotated %d times in %d hours; make the run longer", mints, plan.hours)
	}
	perLifetime := float64(mints) / (float64(exps[len(exps)-1].Sub(exps[0])) / float64(plan.hour))
	e.recordTraffic(r, "lakebase", plan, recs, perLifetime)

	var inside, outside []float64
	for _, rec := range recs {
		ms := float64(rec.took) / float64(time.Millisecond)
		if rec.inside {
			inside = append(inside, ms)
		} else {
			outside = append(outside, ms)
		}
	}
	r.add("rotation/mints-per-lifetime", perLifetime)
	r.add("rotation/inside-connects", float64(len(inside)))
	if len(inside) == 0 || len(outside) == 0 {
		// Rare: the refresh landed before any other connect began.
		r.note(fmt.Sprintf("rotation: %d connects inside the refresh window and %d outside; no comparison this round", len(inside), len(outside)))
		return nil
	}
	r.add("rotation/slowest-inside-ms", slices.Max(inside))
	r.add("rotation/slowest-outside-ms", slices.Max(outside))
	r.add("rotation/inside-over-outside", slices.Max(inside)/slices.Max(outside))
	return nil
}

// recordTraffic records a strategy's connect latencies, connects per hour and
// mints per hour.
func (e *Env) recordTraffic(r *Results, key string, plan trafficPlan, recs []connectRecord, mintsPerHour float64) {
	ms := make([]float64, len(recs))
	for i, rec := range recs {
		ms[i] = float64(rec.took) / float64(time.Millisecond)
	}
	p := "traffic/" + key + "/"
	r.add(p+"p50-ms", median(ms))
	r.add(p+"p99-ms", percentile(ms, 99))
	r.add(p+"max-ms", slices.Max(ms))
	r.add(p+"connects-per-hour", float64(len(recs))/float64(plan.hours))
	r.add(p+"mints-per-hour", mintsPerHour)
}

// naiveLogin returns the host and user that the naive strategies log in
// with, looked up once as a user's code would.
func (e *Env) naiveLogin(ctx context.Context) (naiveLogin, error) {
	host, port, err := e.gateway.Host(ctx)
	if err != nil {
		return naiveLogin{}, err
	}
	user, err := e.gateway.User(ctx)
	if err != nil {
		return naiveLogin{}, err
	}
	return naiveLogin{host: host, port: port, user: user, ca: e.Kit.Postgres.CAFile()}, nil
}

// traffic connects and disconnects with c from plan.workers goroutines
// without pause for plan.hours hours, and returns every connect. inWindow,
// if set, says whether a connect starting at a time is inside the refresh
// window.
func traffic(ctx context.Context, c driver.Connector, plan trafficPlan, inWindow func(time.Time) bool) ([]connectRecord, error) {
	deadline := time.Now().Add(time.Duration(plan.hours) * plan.hour)
	recs := make([][]connectRecord, plan.workers)
	errs := make([]error, plan.workers)
	var wg sync.WaitGroup
	for w := range plan.workers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				start := time.Now()
				inside := inWindow != nil && inWindow(start)
				conn, err := c.Connect(ctx)
				took := time.Since(start)
				if err == nil {
					err = conn.Close()
				}
				if err != nil {
					errs[w] = err
					return
				}
				recs[w] = append(recs[w], connectRecord{took: took, inside: inside})
			}
		})
	}
	wg.Wait()
	return slices.Concat(recs...), errors.Join(errs...)
}
