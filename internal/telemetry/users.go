package telemetry

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// attrReason says why a user's pool was closed: one of the Reason values.
const attrReason = attribute.Key("lakebase.users.reason")

// Why a user's pool was closed, as lakebase.users.reason names it.
const (
	ReasonIdle    = "idle"    // no request for the idle timeout
	ReasonEvicted = "evicted" // the least recently used, to make room for another user
	ReasonClosed  = "closed"  // the Users was closed
)

// Users is the instrumentation of the per-user pools of a lakebase.Users:
// how many users it holds, and the pools it opened and closed. It never
// records a user's name or token: the credential metrics of each user's
// connector carry the target alone, so they add up across users. A nil
// *Users is instrumentation turned off.
type Users struct {
	opened       metric.Int64Counter
	closed       metric.Int64Counter
	held         metric.Int64ObservableUpDownCounter
	registration metric.Registration
	reasons      map[string]metric.AddOption // made once: closing a pool allocates no attribute set
}

// NewUsers builds the instrumentation of a lakebase.Users on mp (or, with
// global and a nil mp, OpenTelemetry's global provider), reading the number
// of users held from held when the reader collects; it returns nil when
// there is no provider.
func NewUsers(mp metric.MeterProvider, global bool, held func() int64) (*Users, error) {
	if mp == nil && global {
		mp = otel.GetMeterProvider()
	}
	if mp == nil {
		return nil, nil
	}
	meter := mp.Meter(instrumentationName)
	u := &Users{reasons: make(map[string]metric.AddOption)}
	var err error
	if u.opened, err = meter.Int64Counter("lakebase.users.pools.opened", metric.WithUnit("{pool}"),
		metric.WithDescription("Pools opened for a signed-in user.")); err != nil {
		return nil, err
	}
	if u.closed, err = meter.Int64Counter("lakebase.users.pools.closed", metric.WithUnit("{pool}"),
		metric.WithDescription("Pools of signed-in users closed, by lakebase.users.reason (idle, evicted, closed).")); err != nil {
		return nil, err
	}
	if u.held, err = meter.Int64ObservableUpDownCounter("lakebase.users.held", metric.WithUnit("{user}"),
		metric.WithDescription("Signed-in users whose pools are open.")); err != nil {
		return nil, err
	}
	for _, r := range []string{ReasonIdle, ReasonEvicted, ReasonClosed} {
		u.reasons[r] = metric.WithAttributeSet(attribute.NewSet(attrReason.String(r)))
	}
	u.registration, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(u.held, held())
		return nil
	}, u.held)
	if err != nil {
		return nil, err
	}
	return u, nil
}

// Opened counts a pool opened for a user.
func (u *Users) Opened(ctx context.Context) {
	if u != nil {
		u.opened.Add(ctx, 1)
	}
}

// Closed counts a user's pool closed for reason, one of the Reason values.
func (u *Users) Closed(ctx context.Context, reason string) {
	if u != nil {
		u.closed.Add(ctx, 1, u.reasons[reason])
	}
}

// Close stops reporting the users held.
func (u *Users) Close() {
	if u != nil {
		_ = u.registration.Unregister()
	}
}
