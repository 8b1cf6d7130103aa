package lakebase_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
	"github.com/lib/pq"
)

// Fault 4 for tools that log in themselves with Connector.Credential (a pgx
// pool, psql): after a refused login they call Rejected, and the next
// Credential is a new one.
func TestFaultCredentialRejectedByCaller(t *testing.T) {
	t.Run("revoked early: dropped once, a new one next", func(t *testing.T) {
		e := newFaultEnv(t)
		db, c := e.open(e.dsn())
		ctx := contextFor(t, 30*time.Second)
		old, err := c.Credential(ctx)
		if err != nil {
			t.Fatal(e.record(err))
		}
		if err := e.record(loginWith(ctx, e, c, old)); err != nil {
			t.Fatalf("login with the first credential: %v", err)
		}
		mints := e.kit.Workspace.MintsForInstance(e.instance)

		e.kit.RevokeCredentials()
		err = e.record(loginWith(ctx, e, c, old))
		var pe *pq.Error
		if !errors.As(err, &pe) || (pe.Code != "28P01" && pe.Code != "28000") {
			t.Fatalf("login with the revoked credential = %v; want SQLSTATE 28P01 or 28000", err)
		}
		c.Rejected(old)
		tok, err := c.Credential(ctx)
		if err != nil {
			t.Fatal(e.record(err))
		}
		if tok.Value == old.Value {
			t.Fatal("Credential after Rejected returned the revoked credential")
		}
		if err := e.record(loginWith(ctx, e, c, tok)); err != nil {
			t.Fatalf("login with the new credential: %v", err)
		}

		// Another connection refused with the old credential reports it
		// late: the new one stays.
		c.Rejected(old)
		again, err := c.Credential(ctx)
		if err != nil {
			t.Fatal(e.record(err))
		}
		if again.Value != tok.Value {
			t.Error("Rejected with a credential already replaced dropped the new one")
		}
		// Told that the new credential logged in, the connector takes its
		// refusal for a revocation: it is dropped at once, although the
		// last drop was moments ago.
		c.Accepted(tok)
		e.kit.RevokeCredentials()
		c.Rejected(tok)
		third, err := c.Credential(ctx)
		if err != nil {
			t.Fatal(e.record(err))
		}
		if third.Value == tok.Value {
			t.Fatal("Credential after Accepted, a revocation and Rejected returned the revoked credential")
		}
		if err := e.record(loginWith(ctx, e, c, third)); err != nil {
			t.Fatalf("login with the third credential: %v", err)
		}
		if n := e.kit.Workspace.MintsForInstance(e.instance) - mints; n != 2 {
			t.Errorf("%d mints after the two revocations, want 2", n)
		}
		// The driver's own connections use the new credential at once.
		if err := e.ping(db, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if st := c.Stats(); st.LoginRetries != 0 {
			t.Errorf("Stats.LoginRetries = %d, want 0: Rejected is not Connect's retry", st.LoginRetries)
		}
		if n := strings.Count(e.logs.String(), "login rejected; the next credential is a new one"); n != 3 {
			t.Errorf("%d log lines for the three Rejected calls, want 3:\n%s", n, e.logs)
		}

		e.waitNoLeaksAfterClose()
		c.Rejected(third) // after Close: nothing to drop, nothing to log
		c.Accepted(third)
		if n := strings.Count(e.logs.String(), "login rejected"); n != 3 {
			t.Errorf("Rejected after Close logged (%d lines about rejected logins, want 3)", n)
		}
		if _, err := c.Credential(ctx); !errors.Is(err, lakebase.ErrConnectorClosed) {
			t.Errorf("Credential after Close = %v, want ErrConnectorClosed", err)
		}
	})

	t.Run("native password: nothing to drop", func(t *testing.T) {
		e := newFaultEnv(t)
		db, c := e.open(e.kit.DSNs().Password)
		ctx := contextFor(t, 30*time.Second)
		pw, err := c.Credential(ctx)
		if err != nil {
			t.Fatal(e.record(err))
		}
		c.Rejected(pw)
		again, err := c.Credential(ctx)
		if err != nil {
			t.Fatal(e.record(err))
		}
		if again != pw {
			t.Error("Credential changed after Rejected in native password mode")
		}
		if err := e.ping(db, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(e.logs.String(), "login rejected") {
			t.Errorf("Rejected logged in native password mode:\n%s", e.logs)
		}
		e.waitNoLeaksAfterClose()
	})
}

// loginWith logs in once through lib/pq with tok as the password, as a tool
// that takes its credential from c does, and closes the session.
func loginWith(ctx context.Context, e *faultEnv, c *lakebase.Connector, tok lakebase.Token) error {
	host, port, err := c.Host(ctx)
	if err != nil {
		return err
	}
	user, err := c.User(ctx)
	if err != nil {
		return err
	}
	dsn := fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=%s sslmode=verify-full sslrootcert=%s",
		quoteDSN(host), port, quoteDSN(user), quoteDSN(tok.Value), quoteDSN(c.DBName()), quoteDSN(e.kit.CAFile()))
	pc, err := pq.NewConnector(dsn)
	if err != nil {
		return err
	}
	conn, err := pc.Connect(ctx)
	if err != nil {
		return err
	}
	return conn.Close()
}
