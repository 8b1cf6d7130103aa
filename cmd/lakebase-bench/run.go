package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Run starts a kit, runs every case once per round for opts' count of
// rounds, and returns what was measured. Cases take turns within a round,
// so that a machine that drifts over the run moves every case alike.
func Run(ctx context.Context, opts Options) (res *Results, err error) {
	p, err := opts.plan()
	if err != nil {
		return nil, err
	}
	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	env, err := StartEnv(startCtx, p.mintLatency, max(p.storm, p.users.usersConns()))
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, env.Close()) }()

	var pools []queryPool
	if slices.Contains(p.cases, "queries") || slices.Contains(p.cases, "copy") {
		if pools, err = env.openPools(ctx); err != nil {
			return nil, err
		}
		defer closePools(pools)
	}

	res = NewResults()
	if slices.Contains(p.cases, "pooler") {
		switch err := env.Kit.StartPgBouncer(startCtx); {
		case skipPooler(err):
			p.cases = slices.DeleteFunc(slices.Clone(p.cases), func(c string) bool { return c == "pooler" })
			res.note("pooler: not run: " + err.Error())
		case err != nil:
			return nil, err
		}
	}
	runs := map[string]func() error{
		"connect":   func() error { return env.roundConnect(ctx, p.connects, res) },
		"queries":   func() error { return roundQueries(ctx, pools, p.sel, p.scan, res) },
		"copy":      func() error { return roundCopy(ctx, pools, p.copyLoads, res) },
		"cache":     func() error { return env.roundCacheHit(ctx, p.hitTime, res) },
		"storm":     func() error { return env.roundStorm(ctx, p.storm, res) },
		"traffic":   func() error { return env.roundTraffic(ctx, p.traffic, res) },
		"pgx":       func() error { return env.roundPGX(ctx, p.connects, p.pgxSel, res) },
		"users":     func() error { return env.roundUsers(ctx, p.users, res) },
		"coldstart": func() error { return env.roundColdStart(ctx, res) },
		"pooler": func() error {
			if err := env.roundPooler(ctx, p.connects, p.poolerSel, res); err != nil {
				return err
			}
			return env.roundHeld(ctx, p.held, res)
		},
	}
	for round := 1; round <= p.count; round++ {
		for _, name := range p.cases {
			p.progress(round, name)
			res.ran[name] = true
			if err := runs[name](); err != nil {
				return res, fmt.Errorf("round %d, %s: %w", round, name, err)
			}
		}
	}
	return res, nil
}
