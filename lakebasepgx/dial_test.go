package lakebasepgx_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
)

// transport is a pgconn.DialFunc and LookupFunc of the application's, as
// an SSH tunnel or a SOCKS proxy would be: it counts its lookups and
// dials, and keeps the first bytes written on each connection it dialled.
type transport struct {
	lookups atomic.Int32
	mu      sync.Mutex
	dials   []*recordingConn
}

func (tr *transport) lookUp(ctx context.Context, host string) ([]string, error) {
	tr.lookups.Add(1)
	return net.DefaultResolver.LookupHost(ctx, host)
}

func (tr *transport) dial(ctx context.Context, network, address string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	rc := &recordingConn{Conn: conn}
	tr.mu.Lock()
	tr.dials = append(tr.dials, rc)
	tr.mu.Unlock()
	return rc, nil
}

// opened returns the connections dialled so far.
func (tr *transport) opened() []*recordingConn {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]*recordingConn(nil), tr.dials...)
}

// recordingConn keeps the first 8 bytes written on it: the length and code
// of the first message.
type recordingConn struct {
	net.Conn
	mu    sync.Mutex
	first []byte
}

func (c *recordingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if n := min(8-len(c.first), len(p)); n > 0 {
		c.first = append(c.first, p[:n]...)
	}
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// startsWithSSLRequest reports whether the first message written was
// PostgreSQL's SSLRequest: TLS ran on top of the connection.
func (c *recordingConn) startsWithSSLRequest() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	want := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 8), 80877103)
	return bytes.Equal(c.first, want)
}

// A DialFunc and a LookupFunc that the application set on its
// pgxpool.Config carry every login and every cancel request of a pool
// configured by Configure, with the driver's TLS (verify-full with the
// kit's CA) on top of the connections they open.
func TestConfigureDialsThroughTheApplicationsTransport(t *testing.T) {
	t.Parallel()
	kit := shared.Kit(t)
	sp := newServicePrincipal(t, kit)
	connector, err := lakebase.NewConnector(mustParse(t, m2mDSN(kit, sp, "instance="+lakebasetest.DefaultInstance, "")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { connector.Close() })
	poolCfg, err := pgxpool.ParseConfig("pool_max_conns=2")
	if err != nil {
		t.Fatal(err)
	}
	tr := &transport{}
	poolCfg.ConnConfig.DialFunc, poolCfg.ConnConfig.LookupFunc = tr.dial, tr.lookUp
	pool := configuredPool(t, poolCfg, connector)
	ctx := testContext(t, time.Minute)

	// Two connections at once: two logins.
	c1 := acquireFrom(t, ctx, pool)
	c2 := acquireFrom(t, ctx, pool)
	for _, c := range []*pgxpool.Conn{c1, c2} {
		if _, err := c.Exec(ctx, "SELECT 1"); err != nil {
			t.Fatal(err)
		}
	}
	c2.Release()
	logins := len(tr.opened())
	if logins != 2 || tr.lookups.Load() != 2 {
		t.Errorf("two logins: %d dials and %d lookups through the pool's transport; want 2 and 2", logins, tr.lookups.Load())
	}

	// A query ended by its context: pgx's cancel request goes through the
	// same transport, and reaches the server.
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := c1.Exec(short, "SELECT pg_sleep(15)"); err == nil {
		t.Fatal("pg_sleep(15) ended before its context")
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the cancelled query took %v: the cancel request did not reach the server", took)
	}
	var one int
	if err := c1.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Errorf("the connection after the cancel: %v", err)
	}
	c1.Release()
	opened := tr.opened()
	if len(opened) != logins+1 {
		t.Errorf("%d dials through the pool's transport after a cancel request; want %d (the logins and the cancel request)", len(opened), logins+1)
	}
	for i, c := range opened {
		if !c.startsWithSSLRequest() {
			t.Errorf("connection %d of the pool's transport did not start with an SSLRequest: the driver's TLS did not run on top of it", i)
		}
	}
	if n := pool.Stat().NewConnsCount(); n != 2 {
		t.Errorf("%d connections opened; want 2", n)
	}
}

// acquireFrom takes a connection from a pgxpool.Pool.
func acquireFrom(t *testing.T, ctx context.Context, pool *pgxpool.Pool) *pgxpool.Conn {
	t.Helper()
	c, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatalf("acquire: %v", err)
	}
	return c
}
