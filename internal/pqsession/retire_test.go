package pqsession

import (
	"crypto/tls"
	"crypto/x509"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/lib/pq"
)

// readyForQuery is the protocol's ReadyForQuery message with status.
func readyForQuery(status byte) []byte { return []byte{'Z', 0, 0, 0, 5, status} }

// parameterStatus is a ParameterStatus message, which the server may send
// after ReadyForQuery; like every message but ReadyForQuery it ends with
// something other than a transaction status.
var parameterStatus = []byte("S\x00\x00\x00\x0ba\x00b\x00")

// retiringPair returns a started session over a TCP connection, or over TLS
// on one (the server's side speaks TLS too), that retires as r says, with
// the server's side.
func retiringPair(t *testing.T, overTLS bool, r Retirement) (*Conn, net.Conn) {
	t.Helper()
	tcp, server := tcpPair(t)
	var client net.Conn = tcp
	if overTLS {
		client, server = tlsPair(t, tcp, server)
	}
	c := newConn(client, tcp)
	c.start(r)
	return c, server
}

// tlsPair runs a TLS handshake over client and server with the test kit's
// certificate, checked against its CA, and returns the two TLS ends.
func tlsPair(t *testing.T, client, server net.Conn) (net.Conn, net.Conn) {
	t.Helper()
	cert, err := tls.LoadX509KeyPair("../../lakebasetest/internal/certs/testdata/server.pem", "../../lakebasetest/internal/certs/testdata/server-key.pem")
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile("../../lakebasetest/internal/certs/testdata/ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	ts := tls.Server(server, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	tc := tls.Client(client, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	handshake := make(chan error, 1)
	go func() { handshake <- ts.Handshake() }()
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-handshake; err != nil {
		t.Fatal(err)
	}
	return tc, ts
}

// A request retires its session only when the server's last answer left
// the session outside a transaction: the last byte read, decrypted under
// TLS, is ReadyForQuery's 'I'. Past its lifetime or idle limit, the write
// fails with nothing sent; inside a transaction, or after a message other
// than ReadyForQuery, the request goes out.
func TestRetiresOnlyOutsideATransaction(t *testing.T) {
	const long = time.Hour
	tests := []struct {
		name     string
		retire   Retirement
		age      time.Duration // of the session when the response arrives
		idle     time.Duration // since the response, when the request starts
		response []byte
		retires  bool
	}{
		{"past its lifetime, outside a transaction", Retirement{MaxLifetime: time.Minute}, long, 0, readyForQuery('I'), true},
		{"past its lifetime, in a transaction", Retirement{MaxLifetime: time.Minute}, long, 0, readyForQuery('T'), false},
		{"past its lifetime, in a failed transaction", Retirement{MaxLifetime: time.Minute}, long, 0, readyForQuery('E'), false},
		{"past its lifetime, a message after ReadyForQuery", Retirement{MaxLifetime: time.Minute}, long, 0,
			append(readyForQuery('I'), parameterStatus...), false},
		{"within its lifetime", Retirement{MaxLifetime: long}, time.Minute, 0, readyForQuery('I'), false},
		{"idle past the limit, outside a transaction", Retirement{MaxIdleTime: time.Minute}, 0, long, readyForQuery('I'), true},
		{"idle past the limit, in a transaction", Retirement{MaxIdleTime: time.Minute}, 0, long, readyForQuery('T'), false},
		{"idle within the limit", Retirement{MaxIdleTime: long}, 0, time.Minute, readyForQuery('I'), false},
		{"no limits", Retirement{}, long, long, readyForQuery('I'), false},
	}
	for _, overTLS := range []bool{false, true} {
		for _, tt := range tests {
			name := "plain/" + tt.name
			if overTLS {
				name = "tls/" + tt.name
			}
			t.Run(name, func(t *testing.T) {
				c, server := retiringPair(t, overTLS, tt.retire)
				c.epoch = c.epoch.Add(-tt.age)
				if _, err := server.Write(tt.response); err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadFull(c, make([]byte, len(tt.response))); err != nil {
					t.Fatal(err)
				}
				c.lastRead.Add(-int64(tt.idle))
				request := []byte("Q\x00\x00\x00\x0dSELECT 1\x00")
				n, err := c.Write(request)
				if !tt.retires {
					if err != nil {
						t.Fatalf("the request: %v; want it sent", err)
					}
					got := make([]byte, len(request))
					if _, err := io.ReadFull(server, got); err != nil || string(got) != string(request) {
						t.Fatalf("the server got %q, %v", got, err)
					}
					return
				}
				var ne *net.OpError
				if n != 0 || !errors.As(err, &ne) || !errors.Is(err, errConnRetired) {
					t.Fatalf("the request wrote %d bytes, %v; want nothing written and a *net.OpError saying the connection retired", n, err)
				}
			})
		}
	}
}

// Each session draws its own lifetime, from nine tenths of the maximum to
// the maximum, so that a pool's sessions do not all retire at once.
func TestLifetimesAreDrawnApart(t *testing.T) {
	const max = 24 * time.Hour
	r := Retirement{MaxLifetime: max}
	seen := make(map[time.Duration]bool)
	for range 100 {
		d := r.lifetime()
		if d < max-max/10 || d > max {
			t.Fatalf("a lifetime of %v; want one from %v to %v", d, max-max/10, max)
		}
		seen[d] = true
	}
	if len(seen) < 90 {
		t.Errorf("100 sessions drew %d different lifetimes; want them apart", len(seen))
	}
	if d := (Retirement{MaxLifetime: time.Nanosecond}).lifetime(); d != time.Nanosecond {
		t.Errorf("a lifetime of at most 1ns drew %v; want 1ns, never none", d)
	}
	if d := (Retirement{}).lifetime(); d != 0 {
		t.Errorf("no lifetime drew %v", d)
	}
}

// The sessions of one Opener each draw a lifetime of their own when they
// start, so that a pool's connections, opened together, do not retire
// together.
func TestSessionsDrawTheirOwnLifetimes(t *testing.T) {
	const max = 24 * time.Hour
	srv := newFakeServer(t)
	cfg, err := pq.NewConfig(fmt.Sprintf("host=127.0.0.1 port=%d user=u dbname=d sslmode=disable", srv.port()))
	if err != nil {
		t.Fatal(err)
	}
	o, err := NewOpener(cfg, Retirement{MaxLifetime: max})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctx10s(t)
	d := &handshakeDialer{ctx: ctx, opener: o, host: "127.0.0.1"}
	for range 8 {
		conn, err := d.DialContext(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", srv.port()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
	}
	d.release(true)
	drawn := make(map[time.Duration]bool)
	for _, c := range d.sessions {
		if !c.session.Load() || c.lifetime < max-max/10 || c.lifetime > max {
			t.Fatalf("a session started %v with a lifetime of %v; want it started, with one from %v to %v", c.session.Load(), c.lifetime, max-max/10, max)
		}
		drawn[c.lifetime] = true
	}
	if len(drawn) < 7 {
		t.Errorf("8 sessions drew %d different lifetimes; want each its own", len(drawn))
	}
}

// Where lib/pq runs TLS itself, a Conn reads encrypted bytes, whose last
// one says nothing of a transaction: no session retires.
func TestNoRetirementUnderLibPQsTLS(t *testing.T) {
	for _, tt := range []struct {
		sslmode string
		retires bool
	}{{"disable", true}, {"require", true}, {"verify-full", true}, {"prefer", false}, {"allow", false}} {
		t.Run(tt.sslmode, func(t *testing.T) {
			cfg, err := pq.NewConfig("host=127.0.0.1 user=u dbname=d sslmode=" + tt.sslmode)
			if err != nil {
				t.Fatal(err)
			}
			r := Retirement{MaxLifetime: time.Hour, MaxIdleTime: time.Minute}
			o, err := NewOpener(cfg, r)
			if err != nil {
				t.Fatal(err)
			}
			if got := o.retire == r; got != tt.retires {
				t.Errorf("the Opener's sessions retire as asked: %v; want %v", got, tt.retires)
			}
		})
	}
}

// Through lib/pq: a session's first request runs however short its limits,
// and the next one, past them, is driver.ErrBadConn (nothing was sent, so
// database/sql runs it on another connection) and leaves the connection
// bad, so that database/sql closes it.
func TestRetiredSessionIsBadConn(t *testing.T) {
	conns, _ := openFakeRetiring(t, 1, Retirement{MaxLifetime: time.Nanosecond, MaxIdleTime: time.Nanosecond})
	if err := execOne(ctx10s(t), conns[0]); err != driver.ErrBadConn {
		t.Fatalf("a request on a retired session = %v; want driver.ErrBadConn", err)
	}
	if conns[0].(driver.Validator).IsValid() {
		t.Error("the retired connection is still valid")
	}
}
