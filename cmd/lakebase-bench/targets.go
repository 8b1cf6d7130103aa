package main

import (
	"fmt"
	"math"
)

// Target is a limit a measured value must respect.
type Target struct {
	// Case is the case that measures it (see Cases).
	Case string
	// What the target says, for the report.
	What string
	// Key is the measured value: the median over rounds, or, for an Always
	// target, the worst round.
	Key string
	// Limit is the bound; LimitKey, when set, names a measured value whose
	// median is the bound instead.
	Limit    float64
	LimitKey string
	// AtLeast: the value must be at least the bound; Below: strictly under
	// it; Equal: exactly it; none of them: at most the bound.
	AtLeast, Below, Equal bool
	// Always targets are checked in short runs too: noise cannot move them
	// (mints, allocations), and every round must meet them.
	Always bool
}

// Targets are the targets, in the order of the cases.
var Targets = append([]Target{
	{Case: "connect", What: "connect, direct, warm: median ratio lakebase/lib/pq", Key: "connect/direct/ratio", Limit: 1.03},
	{Case: "connect", What: "connect, gateway, warm: median ratio lakebase/lib/pq", Key: "connect/gateway/ratio", Limit: 1.03},
	{Case: "connect", What: "connect, direct: extra allocations per connect", Key: "connect/direct/extra-allocs", Limit: 10},
	{Case: "connect", What: "connect, gateway: extra allocations per connect", Key: "connect/gateway/extra-allocs", Limit: 10},
	{Case: "queries", What: "SELECT 1 throughput, pool of 8, TLS: ratio lakebase/lib/pq", Key: "query/select1/lakebase/ratio", Limit: 0.99, AtLeast: true},
	{Case: "queries", What: "10,000-row scan, pool of 8, TLS: ratio lakebase/lib/pq", Key: "query/scan/lakebase/ratio", Limit: 0.99, AtLeast: true},
	{Case: "copy", What: "COPY of 100,000 rows, TLS: ratio lakebase/lib/pq", Key: "copy/lakebase/ratio", Limit: 0.97, AtLeast: true},
	{Case: "cache", What: "cache hit, 1 goroutine, less the clock read: ns", Key: "cache/get-1-minus-clock-ns", Limit: 200, Below: true},
	{Case: "cache", What: "cache hit, 1 goroutine: allocations", Key: "cache/get-1-allocs", Limit: 0, Always: true},
	{Case: "storm", What: "storm on a cold connector: mints", Key: "storm/lakebase-cold/mints", Limit: 1, Equal: true, Always: true},
	{Case: "storm", What: "storm of Credential calls on a cold connector: mints", Key: "storm/credential-cold/mints", Limit: 1, Equal: true, Always: true},
	{Case: "storm", What: "storm on a cold connector: failed connects", Key: "storm/lakebase-cold/failed", Limit: 0, Equal: true, Always: true},
	{Case: "storm", What: "storm: p99 connect, ms, under 2 × (mint + plain storm's p99)", Key: "storm/lakebase-cold/p99-ms", LimitKey: "storm/limit-ms", Below: true},
	{Case: "traffic", What: "rotation: slowest connect inside / outside the refresh window", Key: "rotation/inside-over-outside", Limit: 1.5},
	{Case: "traffic", What: "rotation: mints per credential lifetime", Key: "rotation/mints-per-lifetime", Limit: 1.1, Always: true},
	{Case: "pgx", What: "pgx new connection, direct: median ratio lakebasepgx/pgx", Key: "pgx/connect/direct/ratio", Limit: 1.03},
	{Case: "pgx", What: "pgx new connection, gateway: median ratio lakebasepgx/pgx", Key: "pgx/connect/gateway/ratio", Limit: 1.03},
	{Case: "pgx", What: "pgx acquire + SELECT 1, pool of 8: ratio lakebasepgx/pgxpool", Key: "pgx/select1/ratio", Limit: 0.99, AtLeast: true},
	{Case: "pooler", What: "pooler: connect, warm: median ratio lakebase/lib/pq", Key: "pooler/connect/ratio", Limit: 1.03},
	{Case: "pooler", What: "pooler: SELECT 1 per second, pool of 8: ratio lakebase/lib/pq", Key: "pooler/select1/ratio", Limit: 0.99, AtLeast: true},
	{Case: "pooler", What: "pooler, held connections: failed connects", Key: "pooler/held/failed-connects", Limit: 0, Equal: true, Always: true},
	{Case: "pooler", What: "pooler, held connections: sessions relayed at once = clients", Key: "pooler/held/live", LimitKey: "pooler/held/clients", Equal: true, Always: true},
	{Case: "pooler", What: "pooler, held connections: failed statements", Key: "pooler/held/failed-statements", Limit: 0, Equal: true, Always: true},
	{Case: "pooler", What: "pooler, held connections: peak server backends, PgBouncer pool + 5", Key: "pooler/held/peak-backends", Limit: heldPoolSize + heldSlack, Always: true},
}, append(usersTargets, coldStartTargets...)...)

// Verdict is one target's outcome.
type Verdict struct {
	Target
	// Value is what was measured (for an Always target, the first round
	// that missed it, if any), Bound the limit it was held to.
	Value, Bound float64
	// Ran is false when the target's case was not run; Checked is false
	// then, and for a target that a short run does not enforce.
	Ran, Checked bool
	// Met says whether the value respects the bound.
	Met bool
}

// Check judges every target of the cases r ran. In a short run only the
// Always targets are checked; the others are reported with Checked false.
func Check(r *Results, short bool) []Verdict {
	out := make([]Verdict, 0, len(Targets))
	for _, t := range Targets {
		ran := r.Ran(t.Case)
		v := Verdict{Target: t, Bound: t.Limit, Ran: ran, Checked: ran && (t.Always || !short)}
		if t.LimitKey != "" {
			v.Bound = r.Median(t.LimitKey)
		}
		v.Value = r.Median(t.Key)
		v.Met = t.meets(v.Value, v.Bound)
		if t.Always {
			for _, x := range r.Values(t.Key) {
				if !t.meets(x, v.Bound) {
					v.Value, v.Met = x, false
					break
				}
			}
		}
		out = append(out, v)
	}
	return out
}

// meets reports whether value respects bound.
func (t Target) meets(value, bound float64) bool {
	switch {
	case math.IsNaN(value) || math.IsNaN(bound):
		return false
	case t.AtLeast:
		return value >= bound
	case t.Equal:
		return value == bound
	case t.Below:
		return value < bound
	}
	return value <= bound
}

// relation writes the comparison the target makes.
func (t Target) relation() string {
	switch {
	case t.AtLeast:
		return "≥"
	case t.Equal:
		return "="
	case t.Below:
		return "<"
	}
	return "≤"
}

// bound writes the bound with its relation: "≤ 1.03".
func (v Verdict) bound() string { return fmt.Sprintf("%s %s", v.relation(), number(v.Bound)) }
