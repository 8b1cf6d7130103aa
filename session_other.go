//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package lakebase

import "net"

// peerClosed cannot look at the socket here: a request on a connection that
// the server closed while idle fails (without being run twice) instead of
// being retried on another connection.
func peerClosed(net.Conn) (closed error, waiting bool) { return nil, false }
