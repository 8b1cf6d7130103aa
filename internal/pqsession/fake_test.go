package pqsession

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// fakeServer is a PostgreSQL protocol peer scripted by a test: it accepts
// logins (trust, no TLS), answers BEGIN (the session is then in a
// transaction) and every other simple query with "SELECT 1"'s
// result, records cancel requests, and hands each session to the test so
// that it can end it.
type fakeServer struct {
	l        net.Listener
	sessions chan net.Conn
	cancels  chan struct{} // one per cancel request received, for the test
	wake     chan struct{} // one per cancel request received, for the query
	stop     chan struct{} // closed when the test ends
	wg       sync.WaitGroup

	mu     sync.Mutex
	conns  []net.Conn
	closed bool
}

// newFakeServer starts a fake server on 127.0.0.1, stopped when the test
// ends.
func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{l: l, sessions: make(chan net.Conn, 16), cancels: make(chan struct{}, 16), wake: make(chan struct{}, 16), stop: make(chan struct{})}
	s.wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			if s.closed {
				_ = c.Close()
			}
			s.mu.Unlock()
			s.wg.Go(func() { s.serve(c) })
		}
	})
	t.Cleanup(func() {
		close(s.stop)
		_ = l.Close()
		s.mu.Lock()
		s.closed = true
		for _, c := range s.conns {
			_ = c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

// port is where the server listens.
func (s *fakeServer) port() uint16 { return uint16(s.l.Addr().(*net.TCPAddr).Port) }

// serve runs one connection: a login, then queries until the client or the
// test ends it.
func (s *fakeServer) serve(c net.Conn) {
	defer c.Close()
	be := pgproto3.NewBackend(c, c)
	msg, err := be.ReceiveStartupMessage()
	if err != nil {
		return
	}
	switch msg.(type) {
	case *pgproto3.CancelRequest:
		s.cancels <- struct{}{}
		s.wake <- struct{}{}
		return
	case *pgproto3.StartupMessage:
	default:
		return // this server speaks no TLS: a test that asks for it fails
	}
	be.Send(&pgproto3.AuthenticationOk{})
	be.Send(&pgproto3.BackendKeyData{ProcessID: 1, SecretKey: []byte{0, 0, 0, 1}})
	be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	if be.Flush() != nil {
		return
	}
	s.sessions <- c // buffered beyond what a test opens
	for {
		msg, err := be.Receive()
		if err != nil {
			return
		}
		switch m := msg.(type) {
		case *pgproto3.Query:
			if m.String == "SELECT pg_sleep(10)" { // answers when cancelled
				select {
				case <-s.wake:
				case <-s.stop:
				case <-time.After(10 * time.Second):
				}
				be.Send(&pgproto3.ErrorResponse{Severity: "ERROR", Code: "57014", Message: "canceling statement due to user request"})
				be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
				if be.Flush() != nil {
					return
				}
				continue
			}
			if m.String == "BEGIN" {
				be.Send(&pgproto3.CommandComplete{CommandTag: []byte("BEGIN")})
				be.Send(&pgproto3.ReadyForQuery{TxStatus: 'T'})
				if be.Flush() != nil {
					return
				}
				continue
			}
			be.Send(&pgproto3.RowDescription{Fields: []pgproto3.FieldDescription{{Name: []byte("one"), DataTypeOID: 23, DataTypeSize: 4, TypeModifier: -1}}})
			be.Send(&pgproto3.DataRow{Values: [][]byte{[]byte("1")}})
			be.Send(&pgproto3.CommandComplete{CommandTag: []byte("SELECT 1")})
			be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
			if be.Flush() != nil {
				return
			}
		case *pgproto3.Terminate:
			return
		}
	}
}

// nextSession returns the server side of the next session logged in.
func (s *fakeServer) nextSession(t *testing.T) net.Conn {
	t.Helper()
	select {
	case c := <-s.sessions:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no session logged in")
		return nil
	}
}

// endSession closes c as a server does after its FATAL: the FATAL message,
// then the end of the connection. It waits until the client's side has seen
// the end.
func endSession(t *testing.T, c net.Conn) {
	t.Helper()
	be := pgproto3.NewBackend(c, c)
	be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", Code: "57P01", Message: "terminating connection due to administrator command"})
	_ = be.Flush()
	_ = c.Close()
	time.Sleep(50 * time.Millisecond) // the FIN crosses loopback
}

// errAnyRead is a read error that is neither a timeout nor io.EOF.
var errAnyRead = errors.New("some read error")

// ctx10s is a context for one step of a test.
func ctx10s(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
