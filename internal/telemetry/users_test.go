package telemetry

import (
	"context"
	"testing"
)

// The per-user instruments: pools opened, pools closed by reason, and the
// users held, read when the reader collects; none carries a user.
func TestUsersInstruments(t *testing.T) {
	r := newRecord()
	held := int64(3)
	u, err := NewUsers(r.meterProvider(), false, func() int64 { return held })
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	u.Opened(ctx)
	u.Closed(ctx, ReasonIdle)
	u.Closed(ctx, ReasonEvicted)
	if err := r.collect(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		points int
		reason string
	}{
		{"lakebase.users.pools.opened", 1, ""},
		{"lakebase.users.pools.closed", 2, ReasonIdle},
		{"lakebase.users.held", 1, ""},
	} {
		points := r.measured(tt.name)
		if len(points) != tt.points {
			t.Fatalf("%s: %d points, want %d", tt.name, len(points), tt.points)
		}
		if v, _ := points[0].attrs.Value(attrReason); v.AsString() != tt.reason {
			t.Errorf("%s: reason %q, want %q", tt.name, v.AsString(), tt.reason)
		}
		if _, ok := points[0].attrs.Value(attrUser); ok {
			t.Errorf("%s carries the user", tt.name)
		}
	}
	if got := r.measured("lakebase.users.held")[0].value; got != 3 {
		t.Errorf("users held = %v, want 3", got)
	}
	u.Close()
	if n := r.registered(); n != 0 {
		t.Errorf("%d callbacks registered after Close, want 0", n)
	}
	var off *Users // turned off: every method is a no-op
	off.Opened(ctx)
	off.Closed(ctx, ReasonClosed)
	off.Close()
}
