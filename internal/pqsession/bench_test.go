package pqsession

import (
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkRequestStart measures what starting a request costs a session:
// the write of a small request after a read returned, on a plain TCP
// connection, by itself and through a Conn that is busy (no look) or idle
// (a look at the socket before the write), the choice the package doc
// explains.
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
	for _, tc := range []struct {
		name     string
		lastRead time.Duration
	}{{"busy", 0}, {"idle", -2 * IdleBeforeCheck}} {
		b.Run(tc.name, func(b *testing.B) {
			c := newConn(client, client, new(atomic.Uint64))
			c.session.Store(true)
			b.ReportAllocs()
			for b.Loop() {
				c.read.Store(readMark | txIdle) // a response ended: the next write starts a request
				if tc.lastRead != 0 {
					c.lastRead.Store(int64(tc.lastRead))
				} else {
					c.lastRead.Store(int64(time.Since(c.epoch)))
				}
				if _, err := c.Write(request); err != nil {
					b.Fatal(err)
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
	c := newConn(nopConn{}, nopConn{}, new(atomic.Uint64))
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
