package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
	"github.com/lakebase-go/lakebase/lakebasetest/pgserver"
	"github.com/lib/pq"
)

// pooler is the pair case 9 compares, both through the default endpoint's
// pooled host (the kit's gateway in front of its PgBouncer in transaction
// mode): lakebase with pooled=true, and lib/pq holding the credential that
// connector holds, with the binary_parameters=yes that pooled=true sets, so
// that both send the same bytes.
type pooler struct {
	gate *lakebasetest.Gateway
	lb   *lakebase.Connector // oauth-m2m as the kit's service principal, its credential warm
	pq   *pq.Connector
}

// skipPooler reports whether err, from starting the kit's PgBouncer, means
// that the pooler case cannot run here and may be left out: pgbouncer is
// not installed, and this is not CI, where the case must run (as the kit's
// tests must).
func skipPooler(err error) bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return errors.Is(err, pgserver.ErrPgBouncerNotFound) && !ci
}

// openPooler starts the kit's PgBouncer and returns the pair, the lakebase
// connector warmed by one connection. Close it when done.
func (e *Env) openPooler(ctx context.Context) (*pooler, error) {
	if err := e.Kit.StartPgBouncer(ctx); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	lb, err := pooledConnector(e.Kit)
	if err != nil {
		return nil, err
	}
	p := &pooler{lb: lb}
	if err := e.preparePooler(ctx, p); err != nil {
		return nil, errors.Join(err, p.Close())
	}
	return p, nil
}

// preparePooler warms p.lb, finds the gateway it dials and makes the lib/pq
// connector of the credential it holds.
func (e *Env) preparePooler(ctx context.Context, p *pooler) (err error) {
	if err := connectOnce(ctx, p.lb); err != nil {
		return fmt.Errorf("bench: warm the pooled connector: %w", err)
	}
	if p.gate, err = pooledGateway(ctx, e.Kit, p.lb); err != nil {
		return err
	}
	dsn, err := e.gatewayDSN(ctx, p.lb)
	if err != nil {
		return err
	}
	if p.pq, err = pq.NewConnector(dsn + " binary_parameters=yes"); err != nil {
		return fmt.Errorf("bench: lib/pq connector: %w", err)
	}
	return nil
}

// Close closes the lakebase connector.
func (p *pooler) Close() error { return p.lb.Close() }

// pooledConnector returns a new, cold lakebase connector of the kit's
// endpoint DSN with pooled=true.
func pooledConnector(kit *lakebasetest.Kit) (*lakebase.Connector, error) {
	cfg, err := lakebase.ParseDSN(kit.DSNs().Endpoint + " pooled=true")
	if err != nil {
		return nil, fmt.Errorf("bench: the kit's DSN: %w", err)
	}
	c, err := lakebase.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("bench: lakebase connector: %w", err)
	}
	return c, nil
}

// pooledGateway returns the kit's gateway at the host c dials.
func pooledGateway(ctx context.Context, kit *lakebasetest.Kit, c *lakebase.Connector) (*lakebasetest.Gateway, error) {
	host, port, err := c.Host(ctx)
	if err != nil {
		return nil, fmt.Errorf("bench: host: %w", err)
	}
	gate := kit.Gateway(net.JoinHostPort(host, strconv.Itoa(port)))
	if gate == nil {
		return nil, fmt.Errorf("bench: no gateway of the kit at the pooled host %s:%d", host, port)
	}
	return gate, nil
}

// pools returns a filled pool of poolSize connections of each side, keyed
// pq and lakebase; closing the lakebase one closes p's connector.
func (p *pooler) pools(ctx context.Context) ([]queryPool, error) {
	pools := []queryPool{{"pq", sql.OpenDB(p.pq)}, {"lakebase", sql.OpenDB(p.lb)}}
	for _, qp := range pools {
		qp.db.SetMaxOpenConns(poolSize)
		qp.db.SetMaxIdleConns(poolSize)
		if err := fill(ctx, qp.db); err != nil {
			closePools(pools)
			return nil, fmt.Errorf("bench: fill the pooled %s pool: %w", qp.key, err)
		}
	}
	return pools, nil
}

// roundPooler measures, through the pooled host, n connects of each side in
// shuffled turns (median and 99th percentile latency, and the median of the
// paired ratios), then SELECT 1 from poolSize goroutines on a filled pool of
// poolSize connections of each side, in slices taken in turns as case 2
// takes them. The connects come first: between two, the gateway must have
// ended every session.
func (e *Env) roundPooler(ctx context.Context, n int, sel queryPlan, r *Results) error {
	p, err := e.openPooler(ctx)
	if err != nil {
		return err
	}
	if err := p.connects(ctx, n, r); err != nil {
		return errors.Join(err, p.Close())
	}
	pools, err := p.pools(ctx)
	if err != nil {
		return errors.Join(err, p.Close())
	}
	defer closePools(pools)
	overall, perSlice, err := rateSlices(ctx, "pooled SELECT 1", pools, sel, selectOne)
	if err != nil {
		return err
	}
	for _, qp := range pools {
		r.add("pooler/select1/"+qp.key+"/ops-s", overall[qp.key])
	}
	r.add("pooler/select1/ratio", sliceRatio(perSlice, "lakebase", "pq"))
	return nil
}

// connects opens and closes n connections of each side in shuffled turns,
// and records their latencies and the median of the paired ratios.
func (p *pooler) connects(ctx context.Context, n int, r *Results) error {
	keys := []string{"pq", "lakebase"}
	sides := []driver.Connector{p.pq, p.lb}
	lat, err := connectTurns(p.gate, n, keys, func(i int) (func() error, error) {
		conn, err := sides[i].Connect(ctx)
		if err != nil {
			return nil, err
		}
		return conn.Close, nil
	})
	if err != nil {
		return err
	}
	for _, k := range keys {
		ms := millis(lat[k])
		r.add("pooler/connect/"+k+"/p50-ms", median(ms))
		r.add("pooler/connect/"+k+"/p99-ms", percentile(ms, 99))
	}
	r.add("pooler/connect/ratio", pairedRatio(lat["lakebase"], lat["pq"]))
	return nil
}
