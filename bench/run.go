package bench

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Run starts a kit, runs every case once per round for opts' count of
// rounds, and returns what was measured. Cases take turns within a round,
// so that a machine that drifts over the run moves every case alike.
func Run(ctx context.Context, opts Options) (res *Results, err error) {
	p := opts.plan()
	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	env, err := StartEnv(startCtx, p.mintLatency, p.storm)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, env.Close()) }()

	pools, err := env.openPools(ctx)
	if err != nil {
		return nil, err
	}
	defer closePools(pools)

	res = NewResults()
	for round := 1; round <= p.count; round++ {
		for _, c := range []struct {
			name string
			run  func() error
		}{
			{"connect", func() error { return env.roundConnect(ctx, p.connects, res) }},
			{"queries", func() error { return roundQueries(ctx, pools, p.sel, p.scan, res) }},
			{"cache hit", func() error { return env.roundCacheHit(ctx, p.hitTime, res) }},
			{"storm", func() error { return env.roundStorm(ctx, p.storm, res) }},
			{"rotation and naive strategies", func() error { return env.roundTraffic(ctx, p.traffic, res) }},
		} {
			p.progress(round, c.name)
			if err := c.run(); err != nil {
				return res, fmt.Errorf("round %d, %s: %w", round, c.name, err)
			}
		}
	}
	return res, nil
}
