package pqsession

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lib/pq"
)

// These tests pin what the package relies on in lib/pq (see the package
// doc), against lib/pq itself with a dialer whose connections fail on
// demand: a lib/pq upgrade that changes one of them fails here.

// scriptedDialer dials TCP and counts its dials; its connections fail as the
// test says.
type scriptedDialer struct {
	dials atomic.Int32
	mu    sync.Mutex
	last  *scriptedConn
}

func (d *scriptedDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	d.dials.Add(1)
	sc := &scriptedConn{Conn: c}
	d.mu.Lock()
	d.last = sc
	d.mu.Unlock()
	return sc, nil
}

func (d *scriptedDialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

func (d *scriptedDialer) DialTimeout(network, address string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return d.DialContext(ctx, network, address)
}

// scriptedConn fails its next write or read when told to.
type scriptedConn struct {
	net.Conn
	writeErr atomic.Pointer[error]
	readErr  atomic.Pointer[error]
}

func (c *scriptedConn) Write(p []byte) (int, error) {
	if err := c.writeErr.Load(); err != nil {
		return 0, *err
	}
	return c.Conn.Write(p)
}

func (c *scriptedConn) Read(p []byte) (int, error) {
	if err := c.readErr.Load(); err != nil {
		return 0, *err
	}
	return c.Conn.Read(p)
}

// pqConnect logs in to srv through lib/pq with dialer d and sslmode=disable:
// the fake server speaks no TLS, so a login proves that lib/pq speaks plain
// text over the dialer's connection.
func pqConnect(t *testing.T, srv *fakeServer, d pq.Dialer) driver.Conn {
	t.Helper()
	cfg, err := pq.NewConfig(fmt.Sprintf("host=127.0.0.1 port=%d user=u dbname=d sslmode=disable", srv.port()))
	if err != nil {
		t.Fatal(err)
	}
	c, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.Dialer(d)
	conn, err := c.Connect(ctx10s(t))
	if err != nil {
		t.Fatalf("lib/pq login through the dialer: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// execOne runs SELECT 1 on conn.
func execOne(ctx context.Context, conn driver.Conn) error {
	return execQuery(ctx, conn, "SELECT 1")
}

// execQuery runs query on conn through lib/pq.
func execQuery(ctx context.Context, conn driver.Conn, query string) error {
	_, err := conn.(driver.ExecerContext).ExecContext(ctx, query, nil)
	return err
}

func TestLibPQReadNetworkErrorIsReturned(t *testing.T) {
	srv := newFakeServer(t)
	d := &scriptedDialer{}
	conn := pqConnect(t, srv, d)
	var rerr error = &net.OpError{Op: "read", Net: "tcp", Err: errAnyRead}
	d.last.readErr.Store(&rerr)
	err := execOne(ctx10s(t), conn)
	var ne *net.OpError
	if err == driver.ErrBadConn || !errors.As(err, &ne) {
		t.Fatalf("a read that failed = %v; want the *net.OpError itself, which database/sql does not retry", err)
	}
	if conn.(driver.Validator).IsValid() {
		t.Error("the connection is still valid after its read failed")
	}
}

// lib/pq returns driver.ErrBadConn, on which database/sql retries, for a
// write that sent nothing and for the end of the stream (why Conn turns the
// latter into a network error).
func TestLibPQBadConn(t *testing.T) {
	tests := []struct {
		name        string
		write, read error
	}{
		{"a write that sent nothing", &net.OpError{Op: "write", Net: "tcp", Err: errAnyRead}, nil},
		{"the end of the stream", nil, io.EOF},
		{"an unexpected end of the stream", nil, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeServer(t)
			d := &scriptedDialer{}
			conn := pqConnect(t, srv, d)
			if tt.write != nil {
				d.last.writeErr.Store(&tt.write)
			}
			if tt.read != nil {
				d.last.readErr.Store(&tt.read)
			}
			if err := execOne(ctx10s(t), conn); err != driver.ErrBadConn {
				t.Fatalf("%s = %v; want driver.ErrBadConn", tt.name, err)
			}
		})
	}
}

func TestLibPQDialsCancelRequestsThroughTheDialer(t *testing.T) {
	srv := newFakeServer(t)
	d := &scriptedDialer{}
	conn := pqConnect(t, srv, d)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, _ = conn.(driver.ExecerContext).ExecContext(ctx, "SELECT pg_sleep(10)", nil)
	select {
	case <-srv.cancels:
	case <-time.After(10 * time.Second):
		t.Fatal("no cancel request reached the server")
	}
	if n := d.dials.Load(); n != 2 {
		t.Errorf("%d dials; want 2: the session and its cancel request", n)
	}
}
