package integration_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasepgx"
	"github.com/lakebase-go/lakebase/lakebasetest"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// openPgxPool opens a lakebasepgx pool of at most maxConns connections for
// dsn that reports to s; the test closes it.
func (s *otelSink) openPgxPool(t *testing.T, dsn string, maxConns int32) *lakebasepgx.Pool {
	t.Helper()
	cfg, err := lakebase.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MeterProvider, cfg.TracerProvider = s.mp, s.tp
	poolCfg, err := pgxpool.ParseConfig("")
	if err != nil {
		t.Fatal(err)
	}
	poolCfg.MaxConns = maxConns
	pool, err := lakebasepgx.NewPoolWithConfig(context.Background(), cfg, poolCfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// acquireAll acquires n connections of pool at once, so that each is a new
// one, and releases them.
func acquireAll(t *testing.T, pool *lakebasepgx.Pool, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var conns []*pgxpool.Conn
	defer func() {
		for _, c := range conns {
			c.Release()
		}
	}()
	for range n {
		c, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatalf("Acquire: %v", err)
		}
		conns = append(conns, c)
	}
}

// A lakebasepgx pool's connections are traced as database/sql's are: one
// lakebase.connect span per new connection, with the target's attributes
// and the same steps (lakebase.dial for TCP and the driver's TLS, then
// lakebase.login for pgconn's startup and authentication), the first mint
// under the connect that waited for it, and one lakebase.connect.duration
// point per connection.
func TestTelemetryPgxConnect(t *testing.T) {
	t.Parallel()
	kit := lakebasetest.New(t, lakebasetest.Options{})
	sink := newOtelSink(t)
	pool := sink.openPgxPool(t, kit.DSNs().M2M, 3)
	acquireAll(t, pool, 3)

	opened := int(pool.Stat().NewConnsCount())
	connects := sink.named("lakebase.connect")
	if opened != 3 || len(connects) != opened {
		t.Fatalf("%d lakebase.connect spans for %d new connections, want one each, 3", len(connects), opened)
	}
	gw := kit.InstanceGateway()
	for i, sp := range connects {
		children := checkConnectSpan(t, sink, i, sp, gw)
		if sp.SpanKind() != trace.SpanKindClient || sp.Status().Code == codes.Error {
			t.Errorf("connect %d: kind %v, status %v; want a client span that succeeded", i, sp.SpanKind(), sp.Status())
		}
		dial, login := children[3], children[4]
		if dial.EndTime().After(login.StartTime()) || login.EndTime().After(sp.EndTime()) {
			t.Errorf("connect %d: the dial (%v to %v) and the login (%v to %v) overlap or outlast the connect (ends %v)",
				i, dial.StartTime(), dial.EndTime(), login.StartTime(), login.EndTime(), sp.EndTime())
		}
	}
	fetches := sink.named("lakebase.credential.fetch")
	if len(fetches) != 1 {
		t.Fatalf("%d lakebase.credential.fetch spans, want 1: one mint serves the pool", len(fetches))
	}
	if step := sink.byID(fetches[0].Parent()); step == nil || step.Name() != "lakebase.mint" || sink.byID(step.Parent()) == nil {
		t.Errorf("the fetch's parent is %v, want the lakebase.mint span of a recorded connect", step)
	}
	if got := sink.sum(t, "lakebase.connect.duration", success); got != int64(opened) {
		t.Errorf("lakebase.connect.duration{success} count = %d, want one per connection, %d", got, opened)
	}
	if got := sink.sum(t, "lakebase.credential.mints", success); got != 1 {
		t.Errorf("lakebase.credential.mints{success} = %d, want 1", got)
	}
}

// A pgx login refused with a revoked credential: the connect logs in once
// more with a new one, in the same span, after a lakebase.login.retry event
// that names the SQLSTATE from pgconn's error, as a lib/pq login's does.
func TestTelemetryPgxLoginRetry(t *testing.T) {
	t.Parallel()
	kit := lakebasetest.New(t, lakebasetest.Options{})
	sink := newOtelSink(t)
	pool := sink.openPgxPool(t, kit.DSNs().M2M, 2)
	acquireAll(t, pool, 1)
	kit.RevokeCredentials()
	acquireAll(t, pool, 2) // the idle connection, and a new one

	checkRetriedConnect(t, sink)
	if got := sink.sum(t, "lakebase.login.retries"); got != 1 {
		t.Errorf("lakebase.login.retries = %d, want 1", got)
	}
}
