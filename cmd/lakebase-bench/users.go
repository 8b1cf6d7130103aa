package main

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
	"github.com/lib/pq"
)

// The users case (11): the per-user pools of a Databricks App with user
// authorization, lakebase.Users, with this many signed-in users, each sending
// usersRequests requests at once of usersQueries queries each, through
// pools of at most usersConnsPerUser connections.
const (
	usersConnsPerUser = 3
	usersRequests     = 3
	usersQueries      = 3
)

// usersPlan sizes the users case.
type usersPlan struct {
	users int
}

// usersConns is how many server connections the users case may hold at
// once, for the server's max_connections.
func (p usersPlan) usersConns() int { return p.users * usersConnsPerUser }

// roundUsers registers fresh users with Postgres roles, then sends every
// user's requests at once to a new Users (cold: no token verified, no
// credential), each request checking that it runs as its user. It records
// the requests' latency and rate, failures, the mints per user, the most
// server connections any user had, and the tokens verified.
func (e *Env) roundUsers(ctx context.Context, p usersPlan, r *Results) error {
	emails, tokens, err := e.benchUsers(ctx, p.users)
	if err != nil {
		return err
	}
	cfg, err := lakebase.ParseDSN(e.Kit.DSNs().M2M)
	if err != nil {
		return fmt.Errorf("bench: the kit's DSN: %w", err)
	}
	users, err := lakebase.NewUsers(cfg, lakebase.UsersOptions{ConnsPerUser: usersConnsPerUser, MaxConns: p.usersConns()})
	if err != nil {
		return fmt.Errorf("bench: users: %w", err)
	}
	defer users.Close()
	mintsBefore := e.mintsOf(emails)

	var mu sync.Mutex
	var lat []time.Duration
	var failures []error
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range emails {
		for range usersRequests {
			wg.Go(func() {
				<-start
				t0 := time.Now()
				err := userRequest(ctx, users, tokens[i], emails[i])
				took := time.Since(t0)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					failures = append(failures, err)
					return
				}
				lat = append(lat, took)
			})
		}
	}
	begun := time.Now()
	close(start)
	wg.Wait()
	elapsed := time.Since(begun)

	peak, err := e.peakConnsPerUser(ctx, emails)
	if err != nil {
		return err
	}
	ms := millis(lat)
	r.add("users/users", float64(len(emails)))
	r.add("users/p50-ms", median(ms))
	r.add("users/p99-ms", percentile(ms, 99))
	r.add("users/queries-s", float64(len(lat)*usersQueries)/elapsed.Seconds())
	r.add("users/failed", float64(len(failures)))
	r.add("users/mints-per-user", float64(e.mintsOf(emails)-mintsBefore)/float64(len(emails)))
	r.add("users/peak-conns-per-user", float64(peak))
	r.add("users/tokens-verified", float64(users.Stats().TokensVerified))
	if len(failures) > 0 {
		r.note(fmt.Sprintf("users: %d of %d requests failed; the first: %v", len(failures), len(emails)*usersRequests, failures[0]))
	}
	return nil
}

// userRequest is one request of the App: it takes the user's pool for the
// request's lifetime and runs usersQueries queries, each checking that it
// runs as the user.
func userRequest(ctx context.Context, users *lakebase.Users[*sql.DB], token, email string) error {
	ctx, end := context.WithTimeout(ctx, time.Minute) // the request's context: it ends when the handler returns
	defer end()
	db, err := users.ForToken(ctx, token)
	if err != nil {
		return err
	}
	for range usersQueries {
		var user string
		if err := db.QueryRowContext(ctx, "SELECT current_user").Scan(&user); err != nil {
			return err
		}
		if user != email {
			return fmt.Errorf("bench: a request of %s ran as %s", email, user)
		}
	}
	return nil
}

// benchUsers registers n users of the workspace, with Postgres roles, and
// issues each a forwarded token.
func (e *Env) benchUsers(ctx context.Context, n int) (emails, tokens []string, err error) {
	round := fmt.Sprintf("%x", time.Now().UnixNano())
	for i := range n {
		email := fmt.Sprintf("bench-%s-%d@example.com", round, i)
		if err := e.Kit.AddUser(ctx, lakebasetest.User{Email: email}); err != nil {
			return nil, nil, fmt.Errorf("bench: add user: %w", err)
		}
		tok, err := e.Kit.Workspace.ForwardedToken(email)
		if err != nil {
			return nil, nil, fmt.Errorf("bench: forwarded token: %w", err)
		}
		emails, tokens = append(emails, email), append(tokens, tok)
	}
	return emails, tokens, nil
}

// mintsOf is how many credentials the workspace minted for emails.
func (e *Env) mintsOf(emails []string) int {
	n := 0
	for _, email := range emails {
		n += e.Kit.Workspace.MintsFor(email)
	}
	return n
}

// peakConnsPerUser is the most server sessions that one of emails has: the
// pools keep every connection they opened until their idle timeout, so the
// sessions after the requests are every connection the pools opened.
func (e *Env) peakConnsPerUser(ctx context.Context, emails []string) (int, error) {
	db, err := sql.Open("postgres", e.Kit.Postgres.SuperuserDSN())
	if err != nil {
		return 0, fmt.Errorf("bench: superuser: %w", err)
	}
	defer db.Close()
	var peak int
	err = db.QueryRowContext(ctx, `SELECT coalesce(max(n), 0) FROM (
		SELECT count(*) AS n FROM pg_stat_activity WHERE usename = ANY($1) GROUP BY usename) AS per_user`,
		pq.Array(emails)).Scan(&peak)
	if err != nil {
		return 0, fmt.Errorf("bench: count the users' sessions: %w", err)
	}
	return peak, nil
}

// usersTable lays out the users case.
func usersTable() table {
	return table{
		run: "users",
		title: fmt.Sprintf("11. Users: per-user pools (lakebase.Users), %d requests of %d queries per user at once, at most %d connections each",
			usersRequests, usersQueries, usersConnsPerUser),
		heads: []string{"users", "request p50", "p99", "queries/s", "failed", "mints per user", "most connections of a user", "tokens verified"},
		rows: []row{{"lakebase.Users, cold", []cell{
			count("users/users"), ms("users/p50-ms"), ms("users/p99-ms"), rate("users/queries-s"), count("users/failed"),
			hourly("users/mints-per-user"), count("users/peak-conns-per-user"), count("users/tokens-verified"),
		}}},
	}
}

// usersTargets are the users case's targets: one mint per user per
// credential lifetime, no user beyond their limit, no request failed.
var usersTargets = []Target{
	{Case: "users", What: "users: mints per user (one credential lifetime)", Key: "users/mints-per-user", Limit: 1, Equal: true, Always: true},
	{Case: "users", What: fmt.Sprintf("users: most connections of one user, at most %d", usersConnsPerUser), Key: "users/peak-conns-per-user", Limit: usersConnsPerUser, Always: true},
	{Case: "users", What: "users: failed requests", Key: "users/failed", Limit: 0, Equal: true, Always: true},
}
