package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Options size a run. The zero value is the full run; Short makes a quick
// one for CI.
type Options struct {
	// Short runs a few iterations only and checks only the targets that
	// noise cannot move (see Target.Always).
	Short bool
	// Count is the number of rounds; every case runs once per round, and
	// each reported value is the median over rounds. Zero means 6, or 1 when
	// Short.
	Count int
	// MintLatency is how long the fake workspace takes to mint a credential;
	// zero means 50ms, about a cloud round trip.
	MintLatency time.Duration
	// StormSize is the number of goroutines of the storm; zero means 1000,
	// or 200 when Short.
	StormSize int
	// Hour is the real time that stands for an hour, and so for a
	// credential's lifetime, in the rotation and naive-strategy cases; zero
	// means 6s.
	Hour time.Duration
	// Held is the number of client connections that the pooler case holds
	// open at once through the pooled host; zero means 2000, or 200 when
	// Short.
	Held int
	// Users is the number of signed-in users of the users case; zero means
	// 200, or 50 when Short.
	Users int
	// Cases names the cases to run, in the order of Cases; empty means all.
	Cases []string
	// Progress, if set, is told each case as it starts.
	Progress func(round int, what string)
}

// Cases are the cases a run can select, in the order they run in a round:
// connect (1), queries (2), copy (8: COPY FROM STDIN), cache (3: cache hit),
// storm (4), traffic (5 and 6: rotation and the naive strategies), pgx (7:
// lakebasepgx against a plain pgxpool), pooler (9 and 10: lakebase against
// lib/pq through PgBouncer, and many client connections held open through
// it), users (11: per-user pools of a Databricks App, lakebase.Users),
// coldstart (12: a new connector to its first row, with a workspace far
// away).
var Cases = []string{"connect", "queries", "copy", "cache", "storm", "traffic", "pgx", "pooler", "users", "coldstart"}

// plan is what Options mean for each case.
type plan struct {
	cases        []string
	count        int
	connects     int
	sel, scan    queryPlan
	copyLoads    int
	pgxSel       queryPlan // SELECT 1 of the pgx case, whose target is the tightest
	poolerSel    queryPlan // SELECT 1 through the pooler
	held         int
	hitTime      time.Duration
	storm        int
	users        usersPlan
	traffic      trafficPlan
	mintLatency  time.Duration
	short        bool
	progressFunc func(round int, what string)
}

// plan fills in the defaults and checks the case names.
func (o Options) plan() (plan, error) {
	p := plan{
		cases:       Cases,
		count:       6,
		connects:    100,
		sel:         queryPlan{slices: 12, slice: 100 * time.Millisecond},
		scan:        queryPlan{slices: 8, slice: 300 * time.Millisecond},
		copyLoads:   20,
		pgxSel:      queryPlan{slices: 20, slice: 200 * time.Millisecond},
		poolerSel:   queryPlan{slices: 20, slice: 200 * time.Millisecond},
		held:        2000,
		hitTime:     time.Second,
		storm:       1000,
		users:       usersPlan{users: 200},
		traffic:     trafficPlan{hour: 6 * time.Second, hours: 3, workers: 4},
		mintLatency: 50 * time.Millisecond,
		short:       o.Short,
	}
	if o.Short {
		p.count = 1
		p.connects = 20
		p.storm = 200
		p.users.users = 50
		p.sel = queryPlan{slices: 3, slice: 100 * time.Millisecond}
		p.scan = queryPlan{slices: 3, slice: 200 * time.Millisecond}
		p.copyLoads = 1
		p.pgxSel = queryPlan{slices: 3, slice: 100 * time.Millisecond}
		p.poolerSel = queryPlan{slices: 3, slice: 100 * time.Millisecond}
		p.held = 200
		p.hitTime = 250 * time.Millisecond
		p.traffic.hours = 2
	}
	if o.Count > 0 {
		p.count = o.Count
	}
	if o.MintLatency > 0 {
		p.mintLatency = o.MintLatency
	}
	if o.StormSize > 0 {
		p.storm = o.StormSize
	}
	if o.Users > 0 {
		p.users.users = o.Users
	}
	if o.Held > 0 {
		p.held = o.Held
	}
	if o.Hour > 0 {
		p.traffic.hour = o.Hour
	}
	if len(o.Cases) > 0 {
		for _, c := range o.Cases {
			if !slices.Contains(Cases, c) {
				return plan{}, fmt.Errorf("bench: no case %q; the cases are %s", c, strings.Join(Cases, ", "))
			}
		}
		p.cases = slices.DeleteFunc(slices.Clone(Cases), func(c string) bool { return !slices.Contains(o.Cases, c) })
	}
	p.progressFunc = o.Progress
	return p, nil
}

// progress reports a case starting.
func (p plan) progress(round int, what string) {
	if p.progressFunc != nil {
		p.progressFunc(round, what)
	}
}
