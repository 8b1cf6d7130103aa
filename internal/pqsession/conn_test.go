package pqsession

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
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

// wantNetworkError fails unless err reports the end of the session as a
// network error, which database/sql does not retry.
func wantNetworkError(t *testing.T, err error) {
	t.Helper()
	var ne *net.OpError
	if err == driver.ErrBadConn || !errors.As(err, &ne) || !errors.Is(err, errSessionClosed) {
		t.Fatalf("request on an ended session = %v; want a network error saying the server closed the connection", err)
	}
}

// A session that sat idle and was ended by the server is found ended before
// the request goes out: driver.ErrBadConn, on which database/sql retries.
func TestIdleSessionFoundEndedBeforeRequest(t *testing.T) {
	conns, servers := openFake(t, 1)
	time.Sleep(IdleBeforeCheck)
	endSession(t, servers[0])
	if err := execOne(ctx10s(t), conns[0]); err != driver.ErrBadConn {
		t.Fatalf("request on an idle ended session = %v; want driver.ErrBadConn", err)
	}
}

// Once one session is seen ending, its siblings look before their next
// request, though they were used moments ago.
func TestSiblingsLookAfterASessionEnds(t *testing.T) {
	conns, servers := openFake(t, 2)
	endSession(t, servers[0])
	endSession(t, servers[1])
	wantNetworkError(t, execOne(ctx10s(t), conns[0]))
	if err := execOne(ctx10s(t), conns[1]); err != driver.ErrBadConn {
		t.Fatalf("request on a sibling of an ended session = %v; want driver.ErrBadConn", err)
	}
}

// A busy session pays no look: its request goes out at once, so a session
// used moments ago and ended is found only by the request, and its end is a
// network error, not driver.ErrBadConn: the server may have run the request.
func TestBusySessionIsNotLookedAt(t *testing.T) {
	conns, servers := openFake(t, 1)
	endSession(t, servers[0])
	wantNetworkError(t, execOne(ctx10s(t), conns[0]))
}

// The look before a request never waits for a read in flight (lib/pq's COPY
// goroutine reads while the caller writes rows), and never makes that read
// fail.
func TestLookNeverWaitsForARead(t *testing.T) {
	client, server := tcpPair(t)
	c := newConn(client, client, new(atomic.Uint64))
	c.session.Store(true)
	c.lastRead.Store(-int64(2 * IdleBeforeCheck)) // long idle: the next request looks

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
	c.lastRead.Store(-int64(2 * IdleBeforeCheck))
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
