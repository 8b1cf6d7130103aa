package credcache

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLogsNeverShowValue(t *testing.T) {
	clock := newClock()
	s := failingAt(clock, time.Hour, errBoom, 2)
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := New(s.fetch, Options{Now: clock.Now, Logger: logger})
	defer c.Close()

	mustGet(t, c)
	clock.Advance(56 * time.Minute)
	mustGet(t, c) // starts a refresh that fails
	waitIdle(c)
	clock.Advance(time.Minute)
	cred := mustGet(t, c) // still the first: starts a refresh that succeeds
	waitIdle(c)
	c.Invalidate(secret(3))
	c.Close() // the goroutine that logs has finished

	logs := buf.String()
	for _, want := range []string{
		"credcache: fetching credential", "credcache: credential fetched",
		"credcache: fetch failed", `boom"`, "serving_until=",
		"credcache: credential invalidated",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	for n := int64(1); n <= 3; n++ {
		if strings.Contains(logs, secret(n)) {
			t.Errorf("logs show credential %d:\n%s", n, logs)
		}
	}
	if cred.value != secret(1) {
		t.Errorf("Get = %q, want %q", cred.value, secret(1))
	}
}
