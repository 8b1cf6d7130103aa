package lakebase_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
	"github.com/lib/pq"
)

// usersEnv is a Databricks App with user authorization on a kit: the App's
// environment (its service principal, the PGHOST of an instance of its
// own), signed-in users with Postgres roles, and a table whose row-level
// security lets each user see their own rows only.
type usersEnv struct {
	kit    *lakebasetest.Kit
	users  []lakebasetest.User
	table  string
	target testTarget
	logs   *logCapture
	secret *secrets
}

// newUsersEnv sets up n users on kit, with two rows each in the table.
func newUsersEnv(t *testing.T, kit *lakebasetest.Kit, n int) *usersEnv {
	t.Helper()
	sp := newServicePrincipal(t, kit)
	env := &usersEnv{kit: kit, table: strings.ReplaceAll(uniqueName("notes"), "-", "_"), target: newTarget(t, kit, false),
		logs: newLogCapture(), secret: kitSecrets(kit, sp.Secret)}
	appEnvironment(t, kit, sp, env.target.host)
	ctx := contextFor(t, time.Minute)
	for i := range n {
		u := lakebasetest.User{Email: fmt.Sprintf("%s-%d@example.com", uniqueName("user"), i)}
		if err := kit.AddUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		env.users = append(env.users, u)
	}
	admin, err := sql.Open("postgres", kit.Postgres.SuperuserDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	stmts := []string{
		"CREATE TABLE " + env.table + " (owner text NOT NULL, body text NOT NULL)",
		"ALTER TABLE " + env.table + " ENABLE ROW LEVEL SECURITY",
		"CREATE POLICY own_rows ON " + env.table + " USING (owner = current_user) WITH CHECK (owner = current_user)",
		"GRANT SELECT, INSERT ON " + env.table + " TO PUBLIC",
	}
	for _, u := range env.users {
		stmts = append(stmts, fmt.Sprintf("INSERT INTO %s VALUES (%s, 'first'), (%s, 'second')", env.table, pq.QuoteLiteral(u.Email), pq.QuoteLiteral(u.Email)))
	}
	for _, s := range stmts {
		if _, err := admin.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return env
}

// token issues a forwarded token of user and records it as a secret.
func (e *usersEnv) token(t testing.TB, user lakebasetest.User) string {
	t.Helper()
	tok, err := e.kit.Workspace.ForwardedToken(user.Email)
	if err != nil {
		t.Fatal(err)
	}
	e.secret.add(tok)
	return tok
}

// open makes the App's Users from cfg (nil: the environment alone),
// logging into the env's capture; Close is checked at the end of the test.
func (e *usersEnv) open(t testing.TB, cfg *lakebase.Config, opts lakebase.UsersOptions) *lakebase.Users[*sql.DB] {
	t.Helper()
	if cfg == nil {
		cfg = &lakebase.Config{}
	}
	cfg.Logger = e.logs.logger
	users, err := lakebase.NewUsers(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := users.Close(); err != nil {
			t.Error(err)
		}
	})
	return users
}

// rowsOf returns the owners and bodies that db shows of the table, and
// current_user.
func (e *usersEnv) rowsOf(ctx context.Context, db *sql.DB) (user string, rows []string, err error) {
	if err := db.QueryRowContext(ctx, "SELECT current_user").Scan(&user); err != nil {
		return "", nil, err
	}
	r, err := db.QueryContext(ctx, "SELECT owner || ':' || body FROM "+e.table+" ORDER BY 1")
	if err != nil {
		return "", nil, err
	}
	defer r.Close()
	for r.Next() {
		var s string
		if err := r.Scan(&s); err != nil {
			return "", nil, err
		}
		rows = append(rows, s)
	}
	return user, rows, r.Err()
}

// handler is the App: it answers each request with what its user sees.
func (e *usersEnv) handler(users *lakebase.Users[*sql.DB]) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		db, err := users.ForRequest(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		user, rows, err := e.rowsOf(r.Context(), db)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "%s|%s", user, strings.Join(rows, ","))
	})
}

// get sends a request as the Apps proxy forwards it, with token and email
// (each left out when empty), and returns the status and body.
func get(t testing.TB, url, token, email string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set(lakebase.HeaderForwardedAccessToken, token)
	}
	if email != "" {
		req.Header.Set(lakebase.HeaderForwardedEmail, email)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Error(err)
	}
	return resp.StatusCode, string(body)
}

// wantOwn is what user sees of the table: their two rows.
func wantOwn(user string) string { return user + "|" + user + ":first," + user + ":second" }

// Each signed-in user's requests run as that user: current_user is theirs
// and row-level security shows them their rows only, through a pool of
// their own, with credentials minted with their forwarded token (one each),
// none with the App's.
func TestUsersRowLevelSecurity(t *testing.T) {
	env := newUsersEnv(t, sharedKit(t), 4)
	users := env.open(t, nil, lakebase.UsersOptions{})
	srv := httptest.NewServer(env.handler(users))
	defer srv.Close()
	for range 2 {
		for _, u := range env.users {
			if code, body := get(t, srv.URL, env.token(t, u), u.Email); code != http.StatusOK || body != wantOwn(u.Email) {
				t.Errorf("%s: %d %q, want 200 %q", u.Email, code, body, wantOwn(u.Email))
			}
		}
	}
	for _, u := range env.users {
		if n := env.kit.Workspace.MintsFor(u.Email); n != 1 {
			t.Errorf("%s: %d credentials minted, want 1", u.Email, n)
		}
	}
	if n := env.target.mints(); n != len(env.users) {
		t.Errorf("%d credentials minted for the instance, want %d: one per user, none for the App", n, len(env.users))
	}
	s := users.Stats()
	if s.Held != 4 || s.PoolsOpened != 4 || s.TokensVerified != 8 {
		t.Errorf("Stats = %+v, want 4 held, 4 pools opened, 8 tokens verified", s)
	}

	// The policy holds for writes too: a user cannot write another's row.
	ctx := contextFor(t, 30*time.Second)
	a, b := env.users[0], env.users[1]
	db, err := users.ForToken(ctx, env.token(t, a))
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.ExecContext(ctx, "INSERT INTO "+env.table+" VALUES ($1, 'forged')", b.Email)
	var pe *pq.Error
	if !errors.As(err, &pe) || pe.Code != "42501" {
		t.Errorf("writing another user's row: %v, want SQLSTATE 42501", err)
	}
	env.secret.check(t, env.logs, err)
}

// Many users' requests at once: each gets their own rows, one mint and one
// pool per user, and no user more connections than the per-user limit.
func TestUsersConcurrentRequests(t *testing.T) {
	const nUsers, perUser, requests = 12, 2, 8
	env := newUsersEnv(t, sharedKit(t), nUsers)
	users := env.open(t, nil, lakebase.UsersOptions{ConnsPerUser: perUser})
	srv := httptest.NewServer(env.handler(users))
	defer srv.Close()
	tokens := make([]string, nUsers)
	for i, u := range env.users {
		tokens[i] = env.token(t, u)
	}
	var wg sync.WaitGroup
	for i, u := range env.users {
		for range requests {
			wg.Go(func() {
				if code, body := get(t, srv.URL, tokens[i], u.Email); code != http.StatusOK || body != wantOwn(u.Email) {
					t.Errorf("%s: %d %q, want 200 %q", u.Email, code, body, wantOwn(u.Email))
				}
			})
		}
	}
	wg.Wait()
	for _, u := range env.users {
		if n := env.kit.Workspace.MintsFor(u.Email); n != 1 {
			t.Errorf("%s: %d credentials minted, want 1", u.Email, n)
		}
	}
	if s := users.Stats(); s.PoolsOpened != nUsers || s.TokensVerified != nUsers {
		t.Errorf("Stats = %+v, want %d pools opened and tokens verified", s, nUsers)
	}
	if n := accepted(env.target.readWrite); n > nUsers*perUser {
		t.Errorf("%d connections accepted, want at most %d users × %d", n, nUsers, perUser)
	}
}

// A newer token of a user serves their next mint, with no new pool: once
// the first token is revoked, rotation goes on with the second. When every
// token of the user is revoked, that user's next connection fails with a
// clear error, and another user's do not.
func TestUsersTokenRotation(t *testing.T) {
	lifetime := scaled(3 * time.Second)
	env := newUsersEnv(t, newKit(t, lakebasetest.Options{CredentialLifetime: lifetime}), 2)
	users := env.open(t, nil, lakebase.UsersOptions{})
	alice, bob := env.users[0], env.users[1]
	ctx := contextFor(t, time.Minute)
	first := env.token(t, alice)
	db, err := users.ForToken(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxIdleConns(0) // every query connects: each needs a valid credential
	wantCurrentUser(t, db, alice.Email)

	second := env.token(t, alice)
	again, err := users.ForToken(ctx, second)
	if err != nil {
		t.Fatal(err)
	}
	if again != db {
		t.Fatal("a newer token of the same user gave another pool")
	}
	env.kit.Workspace.RevokeToken(first)
	waitFor(t, 4*lifetime, "a credential minted with the second token", func() bool {
		wantCurrentUser(t, db, alice.Email)
		return env.kit.Workspace.MintsFor(alice.Email) >= 3
	})
	if s := users.Stats(); s.PoolsOpened != 1 {
		t.Errorf("PoolsOpened = %d, want 1: rotation must not open pools", s.PoolsOpened)
	}

	bobDB, err := users.ForToken(ctx, env.token(t, bob))
	if err != nil {
		t.Fatal(err)
	}
	bobDB.SetMaxIdleConns(0)
	env.kit.Workspace.RevokeToken(second)
	var failure error
	waitFor(t, 4*lifetime, "alice's connections fail once her credential is gone", func() bool {
		_, failure = currentUser(ctx, db)
		return failure != nil
	})
	if !errors.Is(failure, lakebase.ErrUnauthenticated) {
		t.Errorf("alice with revoked tokens: %v, want ErrUnauthenticated", failure)
	}
	wantConnectError(t, failure, "mint", alice.Email)
	wantCurrentUser(t, bobDB, bob.Email)
	env.secret.check(t, env.logs, failure)

	// Her next request brings a fresh token: her next connection mints
	// with it at once, not after the failed mint's backoff.
	if again, err := users.ForToken(ctx, env.token(t, alice)); err != nil || again != db {
		t.Fatalf("alice with a fresh token: %v, want her pool", err)
	}
	wantCurrentUser(t, db, alice.Email)
	if s := users.Stats(); s.PoolsOpened != 2 {
		t.Errorf("PoolsOpened = %d, want 2: alice's and bob's", s.PoolsOpened)
	}
}

// The pools are bounded: with room for two users, a third user's request
// closes the least recently used idle user's pool; while both users held
// have requests running, it waits, within its context, for one to end; an
// idle user's pool closes after the idle timeout.
func TestUsersEviction(t *testing.T) {
	env := newUsersEnv(t, sharedKit(t), 3)
	users := env.open(t, nil, lakebase.UsersOptions{ConnsPerUser: 2, MaxConns: 5, IdleTimeout: scaled(300 * time.Millisecond)})
	tokens := make([]string, len(env.users))
	for i, u := range env.users {
		tokens[i] = env.token(t, u)
	}
	// request holds a user until its returned end is called, as a handler
	// does until it returns.
	request := func(i int) (*sql.DB, func()) {
		t.Helper()
		ctx, end := context.WithCancel(context.Background())
		db, err := users.ForToken(ctx, tokens[i])
		if err != nil {
			end()
			t.Fatal(err)
		}
		wantCurrentUser(t, db, env.users[i].Email)
		return db, end
	}
	_, endA := request(0)
	_, endB := request(1)
	endA()
	_, endC := request(2) // a is the idle one (once its end is seen): evicted
	if s := users.Stats(); s.Held != 2 || s.Evicted != 1 {
		t.Fatalf("Stats = %+v, want 2 held and 1 evicted", s)
	}

	// b and c are busy: a waits until its context ends, or until b's
	// request ends.
	short, cancel := context.WithTimeout(context.Background(), scaled(100*time.Millisecond))
	defer cancel()
	if _, err := users.ForToken(short, tokens[0]); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("with every user busy: %v, want context.DeadlineExceeded", err)
	}
	got := make(chan error, 1)
	waiter, endWaiter := context.WithTimeout(context.Background(), 30*time.Second)
	defer endWaiter()
	go func() {
		_, err := users.ForToken(waiter, tokens[0])
		got <- err
	}()
	time.Sleep(scaled(50 * time.Millisecond))
	endB()
	if err := <-got; err != nil {
		t.Fatalf("after b's request ended: %v", err)
	}
	endC()
	endWaiter()
	waitFor(t, 10*time.Second, "idle pools close", func() bool { return users.Stats().Held == 0 })
	if s := users.Stats(); s.IdleClosed != 2 || s.Evicted != 2 || s.Waits < 1 || s.PoolsOpened != 4 {
		t.Errorf("Stats = %+v, want 2 closed idle, 2 evicted, a wait or more, 4 pools opened", s)
	}
}

// Bad input fails with a clear error that holds no token: no token, a
// malformed one, an unknown one, a header that names another user; a user
// without a Postgres role gets the driver's hint on how to create it.
func TestUsersBadInput(t *testing.T) {
	kit := sharedKit(t)
	env := newUsersEnv(t, kit, 2)
	users := env.open(t, nil, lakebase.UsersOptions{})
	alice, bob := env.users[0], env.users[1]
	roleless := lakebasetest.User{Email: uniqueName("roleless") + "@example.com"}
	if err := kit.Workspace.AddUser(roleless); err != nil { // a workspace user, no Postgres role
		t.Fatal(err)
	}
	unknown := "unknown-" + uniqueName("token")
	env.secret.add(unknown)
	for _, tt := range []struct {
		name, token, email string
		want               error
		step               string
	}{
		{name: "no token", want: lakebase.ErrNoUserToken},
		{name: "bearer prefix", token: "Bearer " + env.token(t, alice), want: lakebase.ErrBadUserToken},
		{name: "space", token: "abc def" + env.token(t, alice), want: lakebase.ErrBadUserToken},
		{name: "control character", token: "abc\x01" + env.token(t, alice), want: lakebase.ErrBadUserToken},
		{name: "too long", token: strings.Repeat("x", 20000), want: lakebase.ErrBadUserToken},
		{name: "unknown token", token: unknown, want: lakebase.ErrUnauthenticated, step: "identity"},
		{name: "another user's e-mail", token: env.token(t, alice), email: bob.Email, want: lakebase.ErrUserMismatch},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequestWithContext(contextFor(t, 30*time.Second), http.MethodGet, "/", nil)
			if tt.token != "" {
				r.Header.Set(lakebase.HeaderForwardedAccessToken, tt.token)
			}
			if tt.email != "" {
				r.Header.Set(lakebase.HeaderForwardedEmail, tt.email)
			}
			_, err := users.ForRequest(r)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ForRequest: %v, want %v", err, tt.want)
			}
			if tt.step != "" {
				wantConnectError(t, err, tt.step)
			}
			if !strings.HasPrefix(err.Error(), "lakebase: ") {
				t.Errorf("error %q does not start with \"lakebase: \"", err)
			}
			env.secret.check(t, env.logs, err)
		})
	}
	if n := users.Stats().Held; n != 0 {
		t.Errorf("%d users held after bad input, want 0", n)
	}

	t.Run("no role", func(t *testing.T) {
		ctx := contextFor(t, 30*time.Second)
		db, err := users.ForToken(ctx, env.token(t, roleless))
		if err != nil {
			t.Fatal(err)
		}
		_, err = currentUser(ctx, db)
		// 28000 from the server, whose trusted socket the kit's gateway
		// logs in over, or 28P01 from one that checks a password, as the
		// driver's other tests of a missing role accept.
		var pe *pq.Error
		if !errors.As(err, &pe) || (pe.Code != "28P01" && pe.Code != "28000") {
			t.Fatalf("a user without a role: %v, want 28P01 or 28000", err)
		}
		wantConnectError(t, err, "login", roleless.Email)
		if want := "databricks_create_role('" + roleless.Email + "', 'USER')"; !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say how to create the role (%s)", err, want)
		}
		env.secret.check(t, env.logs, err)
	})

	t.Run("fallback token", func(t *testing.T) {
		fallback := env.open(t, nil, lakebase.UsersOptions{FallbackToken: func(context.Context) (string, error) {
			return env.token(t, alice), nil
		}})
		r := httptest.NewRequestWithContext(contextFor(t, 30*time.Second), http.MethodGet, "/", nil)
		db, err := fallback.ForRequest(r)
		if err != nil {
			t.Fatal(err)
		}
		wantCurrentUser(t, db, alice.Email)
	})
}

// Close closes every pool and ends everything the Users ran, with requests
// and verifications in flight; afterwards, and for requests that waited,
// the error is ErrUsersClosed.
func TestUsersClose(t *testing.T) {
	env := newUsersEnv(t, sharedKit(t), 3)
	baseline := goroutineIDs()
	users, err := lakebase.NewUsers(nil, lakebase.UsersOptions{ConnsPerUser: 1, MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	busy, end := context.WithCancel(context.Background())
	defer end()
	var dbs []*sql.DB
	for _, u := range env.users[:2] {
		db, err := users.ForToken(busy, env.token(t, u))
		if err != nil {
			t.Fatal(err)
		}
		wantCurrentUser(t, db, u.Email)
		dbs = append(dbs, db)
	}
	waiting := make(chan error, 1)
	go func() {
		_, err := users.ForToken(contextFor(t, 30*time.Second), env.token(t, env.users[2]))
		waiting <- err
	}()
	waitFor(t, 10*time.Second, "the third user waits", func() bool { return users.Stats().Waits == 1 })
	if err := users.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-waiting; !errors.Is(err, lakebase.ErrUsersClosed) {
		t.Errorf("waiting request at Close: %v, want ErrUsersClosed", err)
	}
	if _, err := users.ForToken(context.Background(), env.token(t, env.users[0])); !errors.Is(err, lakebase.ErrUsersClosed) {
		t.Errorf("after Close: %v, want ErrUsersClosed", err)
	}
	for _, db := range dbs {
		if err := db.Ping(); err == nil || !strings.Contains(err.Error(), "closed") {
			t.Errorf("a user's pool after Close: %v, want it closed", err)
		}
	}
	if err := users.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	end()
	waitFor(t, 10*time.Second, "nothing left running", func() bool { return len(driverGoroutines(baseline)) == 0 })
}

// NewUsers refuses options that cannot work, and a Config without a
// workspace target, before anything is looked up.
func TestUsersOptionsChecks(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  *lakebase.Config
		opts lakebase.UsersOptions
		key  string
	}{
		{name: "negative conns", opts: lakebase.UsersOptions{ConnsPerUser: -1}, key: "ConnsPerUser"},
		{name: "budget below one user", opts: lakebase.UsersOptions{ConnsPerUser: 4, MaxConns: 3}, key: "MaxConns"},
		{name: "negative users", opts: lakebase.UsersOptions{MaxUsers: -1}, key: "MaxUsers"},
		{name: "negative idle", opts: lakebase.UsersOptions{IdleTimeout: -time.Second}, key: "IdleTimeout"},
		{name: "native password", cfg: &lakebase.Config{Host: "localhost", User: "app", Password: "pw"}, key: "instance"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			if cfg == nil {
				cfg = &lakebase.Config{Instance: "db", Workspace: "https://example.cloud.databricks.com", Auth: lakebase.AuthPAT, AccessToken: "dapi-x"}
			}
			_, err := lakebase.NewUsers(cfg, tt.opts)
			if !errors.Is(err, lakebase.ErrInvalidDSN) || !strings.Contains(err.Error(), tt.key) {
				t.Errorf("NewUsers: %v, want ErrInvalidDSN naming %s", err, tt.key)
			}
		})
	}
}

// With pooled=true each user's pool logs in to the endpoint's pooled host
// (PgBouncer in transaction mode) as that user, and row-level security
// holds there too.
func TestUsersPooler(t *testing.T) {
	kit := poolerKit(t, 2, 0)
	env := newUsersEnv(t, kit, 3)
	cfg, err := lakebase.ParseDSN(pooledDSN(kit, m2mAuth(kit.ServicePrincipal)))
	if err != nil {
		t.Fatal(err)
	}
	users := env.open(t, cfg, lakebase.UsersOptions{})
	ctx := contextFor(t, time.Minute)
	for _, u := range env.users {
		db, err := users.ForToken(ctx, env.token(t, u))
		if err != nil {
			t.Fatal(err)
		}
		user, rows, err := env.rowsOf(ctx, db)
		if got := user + "|" + strings.Join(rows, ","); err != nil || got != wantOwn(u.Email) {
			t.Errorf("%s through the pooler: %q (%v), want %q", u.Email, got, err, wantOwn(u.Email))
		}
	}
	if n := accepted(pooledGateway(t, kit, false)); n < int64(len(env.users)) {
		t.Errorf("the pooled host let in %d logins, want one per user at least", n)
	}
}

// The App's claims scope its users' credentials too: a Config with claims
// gives users' pools that log in when the user holds the claimed table in
// Unity Catalog.
func TestUsersWithClaims(t *testing.T) {
	kit := sharedKit(t)
	env := newUsersEnv(t, kit, 1)
	kit.Workspace.GrantTable(env.users[0].Email, "main.sales.orders")
	users := env.open(t, &lakebase.Config{Claims: []lakebase.Claim{{PermissionSet: "read_only", Table: "main.sales.orders"}}}, lakebase.UsersOptions{})
	db, err := users.ForToken(contextFor(t, 30*time.Second), env.token(t, env.users[0]))
	if err != nil {
		t.Fatal(err)
	}
	wantCurrentUser(t, db, env.users[0].Email)
}
