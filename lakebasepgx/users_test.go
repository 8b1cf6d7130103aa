package lakebasepgx_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasepgx"
	"github.com/lakebase-go/lakebase/lakebasetest"
)

// usersOnKit registers n users with Postgres roles and a table whose
// row-level security shows each their own row, and returns the App's Users
// (pgx pools, the App logged in as a service principal of its own), the
// users, their tokens and the table.
func usersOnKit(t *testing.T, kit *lakebasetest.Kit, n int, opts lakebase.UsersOptions) (*lakebase.Users[*lakebasepgx.Pool], []string, []string, string) {
	t.Helper()
	ctx := testContext(t, time.Minute)
	name, _, _ := addInstance(t, kit, false)
	table := strings.ReplaceAll(uniqueName("notes"), "-", "_")
	admin, err := pgx.Connect(ctx, kit.Postgres.SuperuserDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	for _, s := range []string{
		"CREATE TABLE " + table + " (owner text NOT NULL, body text NOT NULL)",
		"ALTER TABLE " + table + " ENABLE ROW LEVEL SECURITY",
		"CREATE POLICY own_rows ON " + table + " USING (owner = current_user)",
		"GRANT SELECT ON " + table + " TO PUBLIC",
	} {
		if _, err := admin.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	var emails, tokens []string
	for i := range n {
		email := fmt.Sprintf("%s-%d@example.com", uniqueName("user"), i)
		if err := kit.AddUser(ctx, lakebasetest.User{Email: email}); err != nil {
			t.Fatal(err)
		}
		tok, err := kit.Workspace.ForwardedToken(email)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Exec(ctx, "INSERT INTO "+table+" VALUES ($1, 'mine')", email); err != nil {
			t.Fatal(err)
		}
		emails, tokens = append(emails, email), append(tokens, tok)
	}
	cfg, err := lakebase.ParseDSN(m2mDSN(kit, newServicePrincipal(t, kit), "instance="+name, "pool_max_conn_idle_time=1m"))
	if err != nil {
		t.Fatal(err)
	}
	users, err := lakebasepgx.NewUsers(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := users.Close(); err != nil {
			t.Error(err)
		}
	})
	return users, emails, tokens, table
}

// sees returns current_user and the rows that pool shows of table.
func sees(ctx context.Context, pool *lakebasepgx.Pool, table string) (string, error) {
	var user, rows string
	err := pool.QueryRow(ctx, "SELECT current_user, coalesce(string_agg(owner || ':' || body, ','), '') FROM "+table).Scan(&user, &rows)
	return user + "|" + rows, err
}

// Through pgx pools as through database/sql: each user's requests, many at
// once, run as that user and see their own row only, one pool and one mint
// per user, at most ConnsPerUser connections each; a newer token of a user
// gives the same pool.
func TestUsersRowLevelSecurity(t *testing.T) {
	kit := shared.Kit(t)
	const perUser = 2
	users, emails, tokens, table := usersOnKit(t, kit, 6, lakebase.UsersOptions{ConnsPerUser: perUser})
	var wg sync.WaitGroup
	for i, email := range emails {
		for range 6 {
			wg.Go(func() {
				r := httptest.NewRequestWithContext(testContext(t, 30*time.Second), "GET", "/", nil)
				r.Header.Set(lakebase.HeaderForwardedAccessToken, tokens[i])
				r.Header.Set(lakebase.HeaderForwardedEmail, email)
				pool, err := users.ForRequest(r)
				if err != nil {
					t.Error(err)
					return
				}
				if got, err := sees(r.Context(), pool, table); err != nil || got != email+"|"+email+":mine" {
					t.Errorf("%s sees %q (%v), want their row only", email, got, err)
				}
				if n := pool.Stat().MaxConns(); n != perUser {
					t.Errorf("a user's pool has MaxConns %d, want %d", n, perUser)
				}
			})
		}
	}
	wg.Wait()
	for _, email := range emails {
		if n := kit.Workspace.MintsFor(email); n != 1 {
			t.Errorf("%s: %d credentials minted, want 1", email, n)
		}
	}
	ctx := testContext(t, 30*time.Second)
	first, err := users.ForToken(ctx, tokens[0])
	if err != nil {
		t.Fatal(err)
	}
	newer, err := kit.Workspace.ForwardedToken(emails[0])
	if err != nil {
		t.Fatal(err)
	}
	if again, err := users.ForToken(ctx, newer); err != nil || again != first {
		t.Errorf("a newer token of the same user: %v, want the same pool", err)
	}
	if s := users.Stats(); s.PoolsOpened != 6 {
		t.Errorf("Stats = %+v, want 6 pools opened", s)
	}
}

// A user without a Postgres role gets pgx's own error, with the driver's
// hint on how to create the role; a header naming another user is refused;
// Close closes every user's pool.
func TestUsersBadInputAndClose(t *testing.T) {
	kit := shared.Kit(t)
	users, emails, tokens, _ := usersOnKit(t, kit, 2, lakebase.UsersOptions{})
	ctx := testContext(t, 30*time.Second)

	roleless := uniqueName("roleless") + "@example.com"
	if err := kit.Workspace.AddUser(lakebasetest.User{Email: roleless}); err != nil {
		t.Fatal(err)
	}
	tok, err := kit.Workspace.ForwardedToken(roleless)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := users.ForToken(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	_, err = currentUser(ctx, pool)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || (pe.Code != "28P01" && pe.Code != "28000") || !strings.Contains(err.Error(), "databricks_create_role") {
		t.Errorf("a user without a role: %v, want 28P01 or 28000 with the hint", err)
	}
	for _, secret := range []string{tok, tokens[0], tokens[1]} {
		if strings.Contains(err.Error(), secret) {
			t.Error("a token appears in the error")
		}
	}

	r := httptest.NewRequestWithContext(ctx, "GET", "/", nil)
	r.Header.Set(lakebase.HeaderForwardedAccessToken, tokens[0])
	r.Header.Set(lakebase.HeaderForwardedEmail, emails[1])
	if _, err := users.ForRequest(r); !errors.Is(err, lakebase.ErrUserMismatch) {
		t.Errorf("header naming another user: %v, want ErrUserMismatch", err)
	}

	pool, err = users.ForToken(ctx, tokens[1])
	if err != nil {
		t.Fatal(err)
	}
	if user, err := currentUser(ctx, pool); err != nil || user != emails[1] {
		t.Fatalf("current_user %q (%v), want %q", user, err, emails[1])
	}
	if err := users.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := currentUser(ctx, pool); err == nil {
		t.Error("a user's pool still answers after Close")
	}
	if _, err := users.ForToken(ctx, tokens[1]); !errors.Is(err, lakebase.ErrUsersClosed) {
		t.Errorf("after Close: %v, want ErrUsersClosed", err)
	}
}
