package lakebasepgx

import (
	"bytes"
	"io"
	"net"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
)

// replayConn drops pgx's StartupMessage however pgx splits its writes, and
// passes on every byte after it.
func TestReplayConnDropsStartup(t *testing.T) {
	startup, err := (&pgproto3.StartupMessage{
		ProtocolVersion: pgproto3.ProtocolVersionNumber,
		Parameters:      map[string]string{"user": "u", "database": "d"},
	}).Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	query := []byte("Q\x00\x00\x00\x0dSELECT 1\x00")
	stream := append(append([]byte(nil), startup...), query...)
	tests := []struct {
		name   string
		chunks []int // sizes of pgx's writes; the rest in one last write
	}{
		{"startup and query in one write", nil},
		{"startup, then query", []int{len(startup)}},
		{"length split", []int{1, 2, 1}},
		{"byte by byte through the startup", make1s(len(startup))},
		{"startup and part of the query", []int{len(startup) + 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, server := net.Pipe()
			defer server.Close()
			c := &replayConn{Conn: client, skip: -1}
			got := make(chan []byte)
			go func() {
				b, _ := io.ReadAll(server)
				got <- b
			}()
			rest := stream
			for _, n := range tt.chunks {
				if k, err := c.Write(rest[:n]); err != nil || k != n {
					t.Fatalf("write of %d bytes = %d, %v", n, k, err)
				}
				rest = rest[n:]
			}
			if k, err := c.Write(rest); err != nil || k != len(rest) {
				t.Fatalf("write of %d bytes = %d, %v", len(rest), k, err)
			}
			_ = client.Close()
			if b := <-got; !bytes.Equal(b, query) {
				t.Errorf("the server got %q, want only the query %q", b, query)
			}
		})
	}
}

// make1s returns n ones.
func make1s(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = 1
	}
	return s
}
