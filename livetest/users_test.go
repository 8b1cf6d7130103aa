//go:build live

package livetest

import (
	"errors"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
)

// A person's OAuth token mints their own credential and logs in as them
// through lakebase.Users, as a forwarded token does in a Databricks App with
// user authorization: current_user is the token's SCIM userName, not the
// App's identity; a second person's token gets a pool of its own; a header
// naming someone else is refused.
func TestLiveUsers(t *testing.T) {
	l := liveEnv(t)
	tokens := []string{os.Getenv("LAKEBASE_LIVE_USER_TOKEN"), os.Getenv("LAKEBASE_LIVE_USER_TOKEN_2")}
	if tokens[0] == "" {
		t.Skip("set LAKEBASE_LIVE_USER_TOKEN to a person's OAuth access token (docs/LIVE.md)")
	}
	for _, target := range l.targets() {
		t.Run(target, func(t *testing.T) {
			app, _ := l.open(t, nil, target, l.anyAuth(t))
			ctx := within(t, 2*time.Minute)
			appUser, err := app.User(ctx)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := lakebase.ParseDSN(strings.Join([]string{"workspace=" + quote(l.workspace), target, l.anyAuth(t)}, " "))
			if err != nil {
				t.Fatal(err)
			}
			users, err := lakebase.NewUsers(cfg, lakebase.UsersOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer users.Close()
			seen := map[string]bool{}
			for _, token := range tokens {
				if token == "" {
					continue
				}
				db, err := users.ForToken(ctx, token)
				if err != nil {
					t.Fatal(err)
				}
				var current string
				if err := db.QueryRowContext(ctx, "SELECT current_user").Scan(&current); err != nil {
					t.Fatalf("a user's login (does the token carry the scope to mint a database credential?): %v", err)
				}
				if current == appUser || seen[current] {
					t.Errorf("current_user %q: want the token's own user, not the App's (%q) nor another token's", current, appUser)
				}
				seen[current] = true
				t.Logf("%s: the user token logs in as %q", target, current)

				r := httptest.NewRequestWithContext(ctx, "GET", "/", nil)
				r.Header.Set(lakebase.HeaderForwardedAccessToken, token)
				r.Header.Set(lakebase.HeaderForwardedEmail, "someone-else@example.com")
				if _, err := users.ForRequest(r); !errors.Is(err, lakebase.ErrUserMismatch) {
					t.Errorf("a header naming another user: %v, want ErrUserMismatch", err)
				}
			}
		})
	}
}
