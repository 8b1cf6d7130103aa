package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/lakebase-go/lakebase"
)

// coldLatency is the round trip to the workspace in the cold-start case:
// every control-plane call waits this long before it is served.
const coldLatency = 300 * time.Millisecond

// loginRoutes are the workspace routes of the SDK's login; every other
// route the cold start asks (the lookup, SCIM Me, the mint) is its work
// after the login, which should cost one round trip however many calls it
// makes.
var loginRoutes = []string{"host-metadata", "oidc-discovery", "token", "authorize"}

// coldRoutes are the routes a cold start may ask, counted around each one.
var coldRoutes = append([]string{"me", "instance", "database-credential"}, loginRoutes...)

// roundColdStart measures, for oauth-m2m, pat and oauth-u2m (a returning
// user, from the token cache), the time from a new connector to the first
// row of SELECT 1 with coldLatency on every control-plane call, and what
// the calls it made would cost: one after another (the sum of the calls
// plus the PostgreSQL login), and the target, the SDK's login plus one
// round trip plus the PostgreSQL login. The PostgreSQL login is a warm
// connect of the same connector, timed right after.
func (e *Env) roundColdStart(ctx context.Context, r *Results) error {
	u2mCache, err := e.u2mTokenCache(ctx)
	if err != nil {
		return err
	}
	defer os.RemoveAll(u2mCache)
	ws := e.Kit.Workspace
	ws.SetMintLatency(0)
	defer ws.SetMintLatency(e.mintLatency)
	ws.SetLatency(coldLatency)
	defer ws.SetLatency(0)
	dsns := e.Kit.DSNs()
	for _, m := range []struct {
		name, dsn string
		edit      func(*lakebase.Config)
	}{
		{"m2m", dsns.M2M, nil},
		{"pat", dsns.PAT, nil},
		{"u2m", dsns.U2M, func(c *lakebase.Config) {
			c.TokenCacheDir = u2mCache
			c.Browser = func(string) error { return errors.New("bench: a returning user needs no browser") }
		}},
	} {
		if err := e.coldStart(ctx, m.name, m.dsn, m.edit, r); err != nil {
			return fmt.Errorf("cold start, %s: %w", m.name, err)
		}
	}
	return nil
}

// coldStart measures one cold start of dsn, recorded under name.
func (e *Env) coldStart(ctx context.Context, name, dsn string, edit func(*lakebase.Config), r *Results) error {
	cfg, err := lakebase.ParseDSN(dsn)
	if err != nil {
		return err
	}
	if edit != nil {
		edit(cfg)
	}
	ws := e.Kit.Workspace
	before := make(map[string]int, len(coldRoutes))
	for _, route := range coldRoutes {
		before[route] = ws.Requests(route)
	}
	start := time.Now()
	c, err := lakebase.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(c)
	defer db.Close()
	var one int
	if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return err
	}
	firstRow := time.Since(start)
	start = time.Now()
	conn, err := c.Connect(ctx)
	if err != nil {
		return err
	}
	pgLogin := time.Since(start)
	_ = conn.Close()

	calls, logins := 0, 0
	for _, route := range coldRoutes {
		n := ws.Requests(route) - before[route]
		calls += n
		for _, l := range loginRoutes {
			if l == route {
				logins += n
			}
		}
	}
	sequential := time.Duration(calls)*coldLatency + pgLogin
	target := time.Duration(logins+1)*coldLatency + pgLogin
	key := "coldstart/" + name + "/"
	r.add(key+"first-row-ms", float64(firstRow)/float64(time.Millisecond))
	r.add(key+"sequential-ms", float64(sequential)/float64(time.Millisecond))
	r.add(key+"target-ms", float64(target)/float64(time.Millisecond))
	r.add(key+"ratio", float64(firstRow)/float64(target))
	r.add(key+"calls", float64(calls))
	r.add(key+"login-calls", float64(logins))
	return nil
}

// u2mTokenCache logs the kit's user in once through the kit's browser, with
// no latency, and returns the token cache directory that a returning user's
// connectors read.
func (e *Env) u2mTokenCache(ctx context.Context) (string, error) {
	dir, err := os.MkdirTemp("", "lakebase-bench-u2m-")
	if err != nil {
		return "", err
	}
	cfg, err := lakebase.ParseDSN(e.Kit.DSNs().U2M)
	if err == nil {
		cfg.TokenCacheDir = dir
		cfg.Browser = e.Kit.Workspace.OpenBrowser
		var c *lakebase.Connector
		if c, err = lakebase.NewConnector(cfg); err == nil {
			db := sql.OpenDB(c)
			err = db.PingContext(ctx)
			_ = db.Close()
		}
	}
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("bench: the user's browser login: %w", err)
	}
	return dir, nil
}

// coldStartTable is case 12's table.
func coldStartTable() table {
	rowOf := func(label, mode string) row {
		k := "coldstart/" + mode + "/"
		return row{label, []cell{ms(k + "first-row-ms"), ms(k + "sequential-ms"), ms(k + "target-ms"), ratio(k + "ratio"), count(k + "calls"), count(k + "login-calls")}}
	}
	return table{
		run:   "coldstart",
		title: fmt.Sprintf("12. Cold start: a new connector to the first row, %s per control-plane call", coldLatency),
		heads: []string{"first row", "calls one after another", "target: login + 1 round trip + PostgreSQL login", "ratio to the target", "calls", "of them the login"},
		rows:  []row{rowOf("oauth-m2m", "m2m"), rowOf("pat", "pat"), rowOf("oauth-u2m, returning user", "u2m")},
	}
}

// coldStartTargets: the first row within a tenth of the SDK's login plus
// one round trip plus the PostgreSQL login, for each auth mode.
var coldStartTargets = []Target{
	{Case: "coldstart", What: "cold start, oauth-m2m: first row / (login + 1 round trip + PostgreSQL login)", Key: "coldstart/m2m/ratio", Limit: 1.1},
	{Case: "coldstart", What: "cold start, pat: first row / (login + 1 round trip + PostgreSQL login)", Key: "coldstart/pat/ratio", Limit: 1.1},
	{Case: "coldstart", What: "cold start, oauth-u2m: first row / (login + 1 round trip + PostgreSQL login)", Key: "coldstart/u2m/ratio", Limit: 1.1},
}
