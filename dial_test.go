package lakebase_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
)

// silentServer accepts connections and reads what they send without ever
// answering, as a server stuck in a login would. It returns its port.
func silentServer(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { _, _ = io.Copy(io.Discard, c) })
		}
	})
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return l.Addr().(*net.TCPAddr).Port
}

// A context that ends after the dial, while lib/pq waits for the server's
// answer, must end Connect with the context's error, not a panic on the nil
// connection lib/pq returns with its error.
func TestConnectEndsDuringAStalledLogin(t *testing.T) {
	port := silentServer(t)
	for _, mode := range []string{"disable", "require"} {
		t.Run(mode, func(t *testing.T) {
			conn := mustConnector(t, &lakebase.Config{Host: "127.0.0.1", Port: port, User: "u", Password: "p", SSLMode: mode})
			defer conn.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			c, err := conn.Connect(ctx)
			if err != context.DeadlineExceeded || c != nil {
				t.Fatalf("Connect = %v, %v; want nil, context.DeadlineExceeded itself", c, err)
			}
		})
	}
}

// A server that accepts and never answers cannot hang a Connect whose
// context has no deadline: connect_timeout, else the default budget, bounds
// the dial, the TLS handshake and the login.
func TestConnectBoundedWithoutDeadline(t *testing.T) {
	port := silentServer(t)
	for _, mode := range []string{"disable", "require"} {
		t.Run(mode, func(t *testing.T) {
			cfg, err := lakebase.ParseDSN(fmt.Sprintf("host=127.0.0.1 port=%d user=u password=p sslmode=%s connect_timeout=1", port, mode))
			if err != nil {
				t.Fatal(err)
			}
			db := sql.OpenDB(mustConnector(t, cfg))
			defer db.Close()
			start := time.Now()
			err = db.Ping()
			var ce *lakebase.ConnectError
			if !errors.As(err, &ce) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "connect_timeout") {
				t.Fatalf("Ping = %v; want a ConnectError naming connect_timeout", err)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("Ping took %s with connect_timeout=1", took)
			}
			t.Logf("%v", err)
		})
	}
}
