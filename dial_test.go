package lakebase_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
)

// A context that ends after the dial, while lib/pq waits for the server's
// answer, must end Connect with the context's error, not a panic on the nil
// connection lib/pq returns with its error.
//
// The deadline must fall after the dial: a deadline too short for this
// machine to dial is tried again, doubled, until the server saw the
// connection before it.
func TestConnectEndsDuringAStalledLogin(t *testing.T) {
	silent := startTCPHold(t, "")
	for _, mode := range []string{"disable", "require"} {
		t.Run(mode, func(t *testing.T) {
			conn := mustConnector(t, &lakebase.Config{Host: silent.Host(), Port: silent.Port(), User: "u", Password: "p", SSLMode: mode})
			defer conn.Close()
			for budget := 100 * time.Millisecond; ; budget *= 2 {
				if budget > scaled(10*time.Second) {
					t.Fatal("no Connect reached the server before its deadline")
				}
				dials := silent.Arrived()
				ctx, cancel := context.WithTimeout(context.Background(), budget)
				c, err := conn.Connect(ctx)
				cancel()
				if err != context.DeadlineExceeded || c != nil {
					t.Fatalf("Connect = %v, %v; want nil, context.DeadlineExceeded itself", c, err)
				}
				if silent.Arrived() > dials {
					return // the deadline fell in the login
				}
			}
		})
	}
}

// A server that accepts and never answers cannot hang a Connect whose
// context has no deadline: connect_timeout, else the default budget, bounds
// the dial, the TLS handshake and the login.
func TestConnectBoundedWithoutDeadline(t *testing.T) {
	port := startTCPHold(t, "").Port()
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
