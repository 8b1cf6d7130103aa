package bench

import "time"

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
	// Progress, if set, is told each case as it starts.
	Progress func(round int, what string)
}

// plan is what Options mean for each case.
type plan struct {
	count        int
	connects     int
	sel, scan    queryPlan
	hitTime      time.Duration
	storm        int
	traffic      trafficPlan
	mintLatency  time.Duration
	short        bool
	progressFunc func(round int, what string)
}

// plan fills in the defaults.
func (o Options) plan() plan {
	p := plan{
		count:       6,
		connects:    100,
		sel:         queryPlan{slices: 6, slice: 150 * time.Millisecond},
		scan:        queryPlan{slices: 6, slice: 250 * time.Millisecond},
		hitTime:     time.Second,
		storm:       1000,
		traffic:     trafficPlan{hour: 6 * time.Second, hours: 3, workers: 4},
		mintLatency: 50 * time.Millisecond,
		short:       o.Short,
	}
	if o.Short {
		p.count = 1
		p.connects = 20
		p.storm = 200
		p.sel = queryPlan{slices: 2, slice: 100 * time.Millisecond}
		p.scan = queryPlan{slices: 2, slice: 150 * time.Millisecond}
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
	if o.Hour > 0 {
		p.traffic.hour = o.Hour
	}
	p.progressFunc = o.Progress
	return p
}

// progress reports a case starting.
func (p plan) progress(round int, what string) {
	if p.progressFunc != nil {
		p.progressFunc(round, what)
	}
}
