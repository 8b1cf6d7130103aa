package lakebase_test

import (
	"strings"
	"testing"
	"time"
)

// A credential whose expiry the workspace leaves out, or writes in a form
// that does not parse, is still cached for its documented hour (with a debug
// log), not minted again for every connection; any RFC 3339 form of it is
// read as written.
func TestFaultExpiryMissingOrInAnotherForm(t *testing.T) {
	for _, tt := range []struct {
		name     string
		format   func(time.Time) string
		lifetime time.Duration // what the driver should take it to be
		logged   string        // in the debug log; empty: nothing
	}{
		{name: "missing", format: func(time.Time) string { return "" }, lifetime: time.Hour, logged: "gave no expiry"},
		{name: "unreadable", format: func(time.Time) string { return "1717243200" }, lifetime: time.Hour, logged: "expiry is unreadable"},
		{name: "space and lower case", format: func(e time.Time) string {
			return strings.ToLower(e.UTC().Format("2006-01-02 15:04:05Z"))
		}, lifetime: 10 * time.Minute},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newFaultEnv(t)
			e.kit.Workspace.SetCredentialLifetime(10 * time.Minute)
			e.kit.Workspace.SetExpiryFormat(tt.format)
			t.Cleanup(func() { e.kit.Workspace.SetExpiryFormat(nil) })
			db, c := e.open(e.dsn())
			db.SetMaxIdleConns(0)
			for range 5 {
				if err := e.ping(db, 10*time.Second); err != nil {
					t.Fatal(err)
				}
			}
			if n := e.kit.Workspace.MintsForInstance(e.instance); n != 1 {
				t.Errorf("%d mints for 5 connections, want 1", n)
			}
			want := time.Now().Add(tt.lifetime)
			if got := c.Stats().CredentialExpiry; got.Before(want.Add(-10*time.Second)) || got.After(want.Add(time.Second)) {
				t.Errorf("Stats.CredentialExpiry = %v, want about %v", got, want)
			}
			if tt.logged != "" && !strings.Contains(e.logs.String(), tt.logged) {
				t.Errorf("the fallback was not logged:\n%s", e.logs)
			}
			e.waitNoLeaksAfterClose()
		})
	}
}
