package pqsession

import (
	"io"
	"net"
	"testing"
)

// BenchmarkRequestStart measures what starting a request costs a session:
// the write of a small request after a read returned, on a plain TCP
// connection, by itself and through a started Conn, which looks at the
// socket (one non-blocking system call) before it writes.
func BenchmarkRequestStart(b *testing.B) {
	client, server := tcpPair(b)
	go func() { _, _ = io.Copy(io.Discard, server) }()
	request := []byte("Q\x00\x00\x00\x0dSELECT 1\x00")
	b.Run("tcp", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := client.Write(request); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("session", func(b *testing.B) {
		c := newConn(client, client)
		c.start(Retirement{})
		b.ReportAllocs()
		for b.Loop() {
			c.read.Store(readMark | txIdle) // a response ended: the next write starts a request
			if _, err := c.Write(request); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRoundTrip measures a request and its response over loopback, as
// lib/pq makes them: a write, then reads until the response is in, through
// a plain TCP connection and through a started Conn: the look before the
// request, and the bookkeeping of each read.
func BenchmarkRoundTrip(b *testing.B) {
	request := []byte("Q\x00\x00\x00\x0dSELECT 1\x00")
	response := append([]byte("C\x00\x00\x00\x0dSELECT 1\x00"), readyForQuery(txIdle)...)
	for _, through := range []string{"tcp", "session"} {
		b.Run(through, func(b *testing.B) {
			client, server := tcpPair(b)
			go func() { // answers each request
				buf := make([]byte, len(request))
				for {
					if _, err := io.ReadFull(server, buf); err != nil {
						return
					}
					if _, err := server.Write(response); err != nil {
						return
					}
				}
			}()
			conn := client
			if through == "session" {
				c := newConn(client, client)
				c.start(Retirement{})
				conn = c
			}
			buf := make([]byte, 4096)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := conn.Write(request); err != nil {
					b.Fatal(err)
				}
				for got := 0; got < len(response); {
					n, err := conn.Read(buf)
					if err != nil {
						b.Fatal(err)
					}
					got += n
				}
			}
		})
	}
}

// BenchmarkRequestBookkeeping measures what a Conn adds to one response
// and the request after it, without the socket: a Read that returns a
// ReadyForQuery and a Write, through a Conn on a connection that does
// nothing, as a busy session outside a transaction sees them.
func BenchmarkRequestBookkeeping(b *testing.B) {
	c := newConn(nopConn{}, nopConn{})
	c.session.Store(true)
	buf := make([]byte, 16)
	request := []byte("Q\x00\x00\x00\x0dSELECT 1\x00")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Read(buf); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Write(request); err != nil {
			b.Fatal(err)
		}
	}
}

// nopConn is a connection whose reads return a ReadyForQuery outside a
// transaction and whose writes do nothing.
type nopConn struct{ net.Conn }

func (nopConn) Read(p []byte) (int, error)  { return copy(p, "Z\x00\x00\x00\x05I"), nil }
func (nopConn) Write(p []byte) (int, error) { return len(p), nil }
