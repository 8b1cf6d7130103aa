package pqsession

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"
)

// openFake starts a fake server and opens n sessions to it through one
// Opener, each with a query run, and returns them with the server's sides.
func openFake(t *testing.T, n int) ([]driver.Conn, []net.Conn) {
	t.Helper()
	return openFakeRetiring(t, n, Retirement{})
}

// openFakeRetiring is openFake with sessions that retire as r says.
func openFakeRetiring(t *testing.T, n int, r Retirement) ([]driver.Conn, []net.Conn) {
	t.Helper()
	srv := newFakeServer(t)
	cfg, err := pq.NewConfig(fmt.Sprintf("host=127.0.0.1 port=%d user=u dbname=d sslmode=disable", srv.port()))
	if err != nil {
		t.Fatal(err)
	}
	o, err := NewOpener(cfg, r)
	if err != nil {
		t.Fatal(err)
	}
	var conns []driver.Conn
	var servers []net.Conn
	for range n {
		conn, err := o.Open(ctx10s(t), Login{Host: "127.0.0.1", Port: srv.port(), User: "u"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		if err := execOne(ctx10s(t), conn); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
		servers = append(servers, srv.nextSession(t))
	}
	return conns, servers
}

// wantReason fails unless err carries the server's FATAL 57P01 and says
// whether the request was sent, and is not driver.ErrBadConn, on which
// database/sql would run the request again.
func wantReason(t *testing.T, err error, sent bool) {
	t.Helper()
	var pe *pq.Error
	var ended *EndedError
	if errors.Is(err, driver.ErrBadConn) || !errors.As(err, &pe) || pe.Code != "57P01" || pe.Severity != "FATAL" ||
		!errors.As(err, &ended) || ended.Sent != sent {
		t.Fatalf("request on an ended session = %v; want the server's FATAL 57P01, sent %v, not driver.ErrBadConn", err, sent)
	}
	var ne *net.OpError
	if !errors.As(err, &ne) {
		t.Fatalf("%v: errors.As finds no *net.OpError", err)
	}
}

// Sessions that the server ended, however recently they were used, are
// found ended before their next request goes out: driver.ErrBadConn, on
// which database/sql runs the request on another connection.
func TestEndedSessionFoundBeforeRequest(t *testing.T) {
	for _, idle := range []time.Duration{0, 200 * time.Millisecond} {
		t.Run(fmt.Sprint("idle ", idle), func(t *testing.T) {
			conns, servers := openFake(t, 3)
			for _, s := range servers {
				endSession(t, s)
			}
			time.Sleep(idle)
			for i, conn := range conns {
				if err := execOne(ctx10s(t), conn); err != driver.ErrBadConn {
					t.Fatalf("request %d on an ended session = %v; want driver.ErrBadConn", i, err)
				}
			}
		})
	}
}

// A request in flight when the server ends the session fails with the
// server's reason, and not with driver.ErrBadConn: the server may have run
// it. lib/pq marks the connection bad.
func TestInFlightEndGivesTheServersReason(t *testing.T) {
	conns, servers := openFake(t, 1)
	failed := make(chan error, 1)
	go func() { failed <- execQuery(ctx10s(t), conns[0], "SELECT pg_sleep(10)") }()
	time.Sleep(50 * time.Millisecond) // the request is in flight
	endSession(t, servers[0])
	wantReason(t, <-failed, true)
	if err := execOne(ctx10s(t), conns[0]); err != driver.ErrBadConn {
		t.Fatalf("the next request = %v; want driver.ErrBadConn (lib/pq marked the connection bad)", err)
	}
}

// Inside a transaction, the request that meets an ended session (a COMMIT,
// say) gets the server's reason, with nothing sent, and lib/pq marks the
// connection bad.
func TestEndInTransactionGivesTheReason(t *testing.T) {
	conns, servers := openFake(t, 1)
	if err := execQuery(ctx10s(t), conns[0], "BEGIN"); err != nil {
		t.Fatal(err)
	}
	endSession(t, servers[0])
	err := execQuery(ctx10s(t), conns[0], "COMMIT")
	var pe *pq.Error
	if errors.Is(err, driver.ErrBadConn) || !errors.As(err, &pe) || pe.Code != "57P01" || !strings.Contains(err.Error(), "nothing was sent") {
		t.Fatalf("COMMIT on a session ended in a transaction = %v; want the server's 57P01 and nothing sent", err)
	}
	if err := execOne(ctx10s(t), conns[0]); err != driver.ErrBadConn {
		t.Fatalf("the connection after = %v; want driver.ErrBadConn (lib/pq marked it bad)", err)
	}
}

// The look before a request never waits for a read in flight (lib/pq's
// COPY goroutine reads while the caller writes rows), and never makes that
// read fail.
func TestLookNeverWaitsForARead(t *testing.T) {
	client, server := tcpPair(t)
	c := newConn(client, client)
	c.start(Retirement{})

	read := make(chan error, 1)
	go func() {
		buf := make([]byte, 16)
		n, err := c.Read(buf)
		if err == nil && string(buf[:n]) != "reply" {
			err = fmt.Errorf("read %q", buf[:n])
		}
		read <- err
	}()
	time.Sleep(50 * time.Millisecond) // the read is in flight
	c.read.Store(readMark)
	wrote := make(chan error, 1)
	go func() {
		_, err := c.Write([]byte("request"))
		wrote <- err
	}()
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatalf("write during a read: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the write waits for the read in flight")
	}
	buf := make([]byte, 7)
	if _, err := server.Read(buf); err != nil || string(buf) != "request" {
		t.Fatalf("the server got %q, %v", buf, err)
	}
	if _, err := server.Write([]byte("reply")); err != nil {
		t.Fatal(err)
	}
	if err := <-read; err != nil {
		t.Fatalf("the read in flight: %v", err)
	}
}

// tcpPair returns the two ends of a TCP connection on loopback.
func tcpPair(t testing.TB) (client, server net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	t.Cleanup(func() { _ = client.Close(); _ = server.Close() })
	return client, server
}
