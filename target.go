package lakebase

import (
	"context"
	"net"
	"strconv"
)

// hostPort is where to dial.
type hostPort struct {
	host string
	port uint16
}

// targetResolver finds the host to dial.
type targetResolver interface {
	resolve(ctx context.Context) (hostPort, error)
	// looksUp reports whether the host comes from a lookup that forget can
	// redo (a dial failure may mean the instance moved).
	looksUp() bool
	// forget drops a looked-up host so that the next resolve looks again.
	forget()
	// describe names the target in errors and logs.
	describe() string
}

// fixedHost is a target named by host and port alone.
type fixedHost hostPort

func (f fixedHost) resolve(context.Context) (hostPort, error) { return hostPort(f), nil }
func (fixedHost) looksUp() bool                               { return false }
func (fixedHost) forget()                                     {}
func (f fixedHost) describe() string {
	return "host " + strconv.Quote(net.JoinHostPort(f.host, strconv.Itoa(int(f.port))))
}
