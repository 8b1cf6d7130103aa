package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasepgx"
)

// pgxConnect is one way of opening a new pgx connection as pgxpool's
// connection constructor does (connect_timeout, BeforeConnect, then
// pgx.ConnectConfig): plain pgx with a valid credential in hand, or a
// lakebasepgx pool's.
type pgxConnect struct {
	key     string
	connect func(ctx context.Context) (*pgx.Conn, error)
}

// pgxConnects are the pairs the pgx case compares: straight to the server
// with the native role's password, and through the gateway with the
// credential the gateway connector holds.
func (e *Env) pgxConnects(ctx context.Context) ([]pgxConnect, error) {
	gwDSN, err := e.gatewayDSN(ctx, e.gateway)
	if err != nil {
		return nil, err
	}
	plainDirect, err := plainPGX(e.direct.dsn())
	if err != nil {
		return nil, err
	}
	plainGateway, err := plainPGX(gwDSN)
	if err != nil {
		return nil, err
	}
	lbDirect, err := lakebasePGX(e.lbDirect)
	if err != nil {
		return nil, err
	}
	lbGateway, err := lakebasePGX(e.gateway)
	if err != nil {
		return nil, err
	}
	return []pgxConnect{
		{"pgx-direct", plainDirect},
		{"lakebasepgx-direct", lbDirect},
		{"pgx-gateway", plainGateway},
		{"lakebasepgx-gateway", lbGateway},
	}, nil
}

// plainPGX connects with pgx's own configuration of dsn.
func plainPGX(dsn string) (func(context.Context) (*pgx.Conn, error), error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("bench: pgx configuration: %w", err)
	}
	cfg.ConnectTimeout = poolConnectTimeout
	return func(ctx context.Context) (*pgx.Conn, error) { return pgx.ConnectConfig(ctx, cfg) }, nil
}

// poolConnectTimeout is the connect_timeout pgxpool gives a connection that
// has none, so that a connect abandoned by its Acquire ends: both sides of
// the comparison connect with it, as in a pool.
const poolConnectTimeout = 2 * time.Minute

// lakebasePGX connects as a lakebasepgx pool of c does.
func lakebasePGX(c *lakebase.Connector) (func(context.Context) (*pgx.Conn, error), error) {
	poolCfg, err := pgxpool.ParseConfig("")
	if err != nil {
		return nil, fmt.Errorf("bench: pgxpool configuration: %w", err)
	}
	if err := lakebasepgx.Configure(poolCfg, c); err != nil {
		return nil, err
	}
	return func(ctx context.Context) (*pgx.Conn, error) {
		cc := poolCfg.ConnConfig.Copy()
		cc.ConnectTimeout = poolConnectTimeout
		if err := poolCfg.BeforeConnect(ctx, cc); err != nil {
			return nil, err
		}
		return pgx.ConnectConfig(ctx, cc)
	}, nil
}

// roundPGX measures a lakebasepgx pool against a plain pgxpool holding a
// valid credential: n new connections of each, in shuffled turns (median
// latency, allocations, and the median of the paired ratios), then SELECT 1
// through Acquire on two filled pools of poolSize, in slices taken in turns.
func (e *Env) roundPGX(ctx context.Context, n int, sel queryPlan, r *Results) error {
	vs, err := e.pgxConnects(ctx)
	if err != nil {
		return err
	}
	keys := make([]string, len(vs))
	for i, v := range vs {
		keys[i] = v.key
	}
	lat, err := connectTurns(e.Kit.InstanceGateway(), n, keys, func(i int) (func() error, error) {
		conn, err := vs[i].connect(ctx)
		if err != nil {
			return nil, err
		}
		return func() error { return conn.Close(ctx) }, nil
	})
	if err != nil {
		return err
	}
	for _, v := range vs {
		r.add("pgx/connect/"+v.key+"/p50-ms", median(millis(lat[v.key])))
		allocs, err := e.pgxAllocs(ctx, v.connect, min(n, allocConnects))
		if err != nil {
			return fmt.Errorf("bench: connect %s: %w", v.key, err)
		}
		r.add("pgx/connect/"+v.key+"/allocs", allocs)
	}
	for _, path := range []string{"direct", "gateway"} {
		r.add("pgx/connect/"+path+"/ratio", pairedRatio(lat["lakebasepgx-"+path], lat["pgx-"+path]))
	}
	return e.pgxSelect(ctx, sel, r)
}

// pgxAllocs counts this process's allocations per connect of connect.
func (e *Env) pgxAllocs(ctx context.Context, connect func(context.Context) (*pgx.Conn, error), n int) (float64, error) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		conn, err := connect(ctx)
		if err != nil {
			return 0, err
		}
		if err := conn.Close(ctx); err != nil {
			return 0, err
		}
		awaitIdle(e.Kit.InstanceGateway())
	}
	runtime.ReadMemStats(&after)
	return math.Round(float64(after.Mallocs-before.Mallocs) / float64(n)), nil
}

// pgxSelect runs SELECT 1 through Acquire on a plain pgxpool and on a
// lakebasepgx pool, both straight to the server with poolSize connections
// opened beforehand, and records the rates and the median of the ratios of
// slices run one after the other.
func (e *Env) pgxSelect(ctx context.Context, sel queryPlan, r *Results) (err error) {
	plainCfg, err := pgxpool.ParseConfig(e.direct.dsn())
	if err != nil {
		return fmt.Errorf("bench: pgxpool configuration: %w", err)
	}
	plainCfg.MaxConns, plainCfg.MinConns = poolSize, poolSize
	plain, err := pgxpool.NewWithConfig(ctx, plainCfg)
	if err != nil {
		return fmt.Errorf("bench: pgxpool: %w", err)
	}
	defer plain.Close()
	lbCfg := e.directConfig()
	poolCfg, err := pgxpool.ParseConfig("")
	if err != nil {
		return fmt.Errorf("bench: pgxpool configuration: %w", err)
	}
	poolCfg.MaxConns, poolCfg.MinConns = poolSize, poolSize
	lb, err := lakebasepgx.NewPoolWithConfig(ctx, &lbCfg, poolCfg)
	if err != nil {
		return err
	}
	defer lb.Close()
	pools := []struct {
		key  string
		pool *pgxpool.Pool
	}{{"pgxpool", plain}, {"lakebasepgx", lb.Pool}}
	for _, p := range pools {
		if err := fillPGX(ctx, p.pool); err != nil {
			return fmt.Errorf("bench: fill the %s pool: %w", p.key, err)
		}
	}
	ops := make(map[string]int64)
	spent := make(map[string]time.Duration)
	rates := make(map[string][]float64)
	for range sel.slices {
		for _, j := range rand.Perm(len(pools)) {
			p := pools[j]
			runtime.GC()
			n, took, err := hammer(ctx, sel.slice, func(ctx context.Context) error {
				var one int
				return p.pool.QueryRow(ctx, "SELECT 1").Scan(&one)
			})
			if err != nil {
				return fmt.Errorf("bench: SELECT 1 with %s: %w", p.key, err)
			}
			ops[p.key] += n
			spent[p.key] += took
			rates[p.key] = append(rates[p.key], float64(n)/took.Seconds())
		}
	}
	for _, p := range pools {
		r.add("pgx/select1/"+p.key+"/ops-s", float64(ops[p.key])/spent[p.key].Seconds())
		allocs, err := selectAllocs(ctx, p.pool)
		if err != nil {
			return fmt.Errorf("bench: SELECT 1 with %s: %w", p.key, err)
		}
		r.add("pgx/select1/"+p.key+"/allocs", allocs)
	}
	ratios := make([]float64, sel.slices)
	for s := range ratios {
		ratios[s] = rates["lakebasepgx"][s] / rates["pgxpool"][s]
	}
	r.add("pgx/select1/ratio", median(ratios))
	return nil
}

// selectAllocs counts this process's allocations per acquire + SELECT 1 on
// pool, one goroutine at a time: unlike the rate, noise cannot move it, so
// it shows whether the two pools' query paths differ at all.
func selectAllocs(ctx context.Context, pool *pgxpool.Pool) (float64, error) {
	const n = 1000
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		var one int
		if err := pool.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
			return 0, err
		}
	}
	runtime.ReadMemStats(&after)
	return math.Round(float64(after.Mallocs-before.Mallocs) / n), nil
}

// fillPGX opens all of a pool's connections at once and returns them to it.
func fillPGX(ctx context.Context, pool *pgxpool.Pool) error {
	conns := make([]*pgxpool.Conn, 0, poolSize)
	defer func() {
		for _, c := range conns {
			c.Release()
		}
	}()
	var errs []error
	for range poolSize {
		c, err := pool.Acquire(ctx)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		conns = append(conns, c)
	}
	return errors.Join(errs...)
}
