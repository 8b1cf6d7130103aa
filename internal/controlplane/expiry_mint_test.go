package controlplane

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// Both mints read every RFC 3339 form of the workspace's expiry, and fall
// back to the credential's documented lifetime, with a debug log, when the
// expiry is missing or unreadable: a zero expiry would make the driver mint
// for every connection.
func TestMintExpiryForms(t *testing.T) {
	w := startWorkspace(t)
	w.SetCredentialLifetime(90 * time.Second)
	var logs bytes.Buffer
	s := m2m(w)
	s.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := newClient(t, s)
	mints := []struct {
		name     string
		lifetime time.Duration // the fallback
		mint     func() (string, time.Time, error)
	}{
		{"instance", DefaultCredentialLifetime, func() (string, time.Time, error) { return c.MintForInstance(testContext(t), instName, nil) }},
		{"endpoint", DefaultCredentialLifetime, func() (string, time.Time, error) { return c.MintForEndpoint(testContext(t), epPath, 0, nil) }},
		{"endpoint ttl=600s", 600 * time.Second, func() (string, time.Time, error) {
			return c.MintForEndpoint(testContext(t), epPath, 600*time.Second, nil)
		}},
	}
	forms := []struct {
		name     string
		format   func(time.Time) string
		fallback string // the debug log's words; empty: the workspace's expiry is used
	}{
		{name: "space and lower case", format: func(e time.Time) string { return strings.ToLower(e.UTC().Format("2006-01-02 15:04:05.999999999Z")) }},
		{name: "offset", format: func(e time.Time) string { return e.In(time.FixedZone("", 5*3600+1800)).Format(time.RFC3339) }},
		{name: "twelve fractional digits", format: func(e time.Time) string { return e.UTC().Format("2006-01-02T15:04:05.000000000") + "123Z" }},
		{name: "missing", format: func(time.Time) string { return "" }, fallback: "gave no expiry"},
		{name: "unreadable", format: func(time.Time) string { return "in an hour" }, fallback: "expiry is unreadable"},
	}
	for _, f := range forms {
		w.SetExpiryFormat(f.format)
		for _, m := range mints {
			logs.Reset()
			token, expiry, err := m.mint()
			if err != nil {
				t.Errorf("%s, %s: %v", f.name, m.name, err)
				continue
			}
			want := time.Now().Add(90 * time.Second)
			if f.fallback != "" {
				want = time.Now().Add(m.lifetime)
			}
			if token == "" || !near(expiry, want) || expiry.Location() != time.UTC {
				t.Errorf("%s, %s: expiry %v, want about %v in UTC", f.name, m.name, expiry, want)
			}
			logged := strings.Contains(logs.String(), f.fallback) && strings.Contains(logs.String(), "level=DEBUG")
			if f.fallback != "" && !logged {
				t.Errorf("%s, %s: the fallback was not logged at debug:\n%s", f.name, m.name, logs.String())
			}
			if f.fallback == "" && logs.Len() != 0 {
				t.Errorf("%s, %s: logged %s", f.name, m.name, logs.String())
			}
			if strings.Contains(logs.String(), token) {
				t.Errorf("%s, %s: the log holds the credential", f.name, m.name)
			}
		}
	}
}
