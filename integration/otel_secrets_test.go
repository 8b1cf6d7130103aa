package integration_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// No secret ever reaches a span or a metric, in success, rotation, a
// refused login or a failing workspace, in every auth mode: not the client
// secret, the personal access token, the native password, nor any
// credential the connector handed out. The user's e-mail address appears
// only when TelemetryUser allows it, and then only as lakebase.user.
func TestTelemetryHoldsNoSecret(t *testing.T) {
	t.Parallel()
	const lifetime = time.Second
	kit := lakebasetest.New(t, lakebasetest.Options{CredentialLifetime: lifetime})
	dsns := kit.DSNs()
	every := []string{dsns.M2M, dsns.PAT, dsns.Password, dsns.Endpoint}
	for _, showUser := range []bool{false, true} {
		dsns := every
		if showUser { // the one mode whose user is an e-mail address
			dsns = []string{kit.DSNs().PAT}
		}
		sink := newOtelSink(t)
		secrets := []string{kit.ServicePrincipal.Secret, kit.User.Token, kit.User.RefreshToken, kit.NativePassword}
		for _, dsn := range dsns {
			c, db := sink.openDB(t, dsn, func(cfg *lakebase.Config) { cfg.TelemetryUser = showUser })
			// Rotation, a revoked credential, then a failing mint.
			pingFor(t, db, lifetime+lifetime/2, 50*time.Millisecond)
			kit.RevokeCredentials()
			pingFor(t, db, 0, 0)
			secrets = append(secrets, handedOut(t, c)...)
			kit.Workspace.Fail("database-credential", lakebasetest.Fault{Status: http.StatusForbidden})
			kit.Workspace.Fail("postgres-credential", lakebasetest.Fault{Status: http.StatusForbidden})
			kit.RevokeCredentials()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = db.PingContext(ctx)
			cancel()
			kit.Workspace.ClearFaults()
			waitIdle(t, c)
		}

		texts := sink.texts(t)
		if len(texts) < 100 {
			t.Fatalf("only %d texts recorded: the scenario did not run", len(texts))
		}
		for _, text := range texts {
			for _, s := range secrets {
				if s != "" && strings.Contains(text.value, s) {
					t.Errorf("%s holds a secret: %q", text.where, text.value)
				}
			}
			if strings.Contains(text.value, kit.User.Email) && (!showUser || text.where != "span lakebase.connect attribute lakebase.user") {
				t.Errorf("TelemetryUser %t: %s holds the user's e-mail address", showUser, text.where)
			}
		}
		if !showUser {
			continue
		}
		var shown bool
		for _, text := range texts {
			shown = shown || text.value == kit.User.Email
		}
		if !shown {
			t.Error("TelemetryUser true: no lakebase.user attribute with the user's e-mail address")
		}
	}
}

// handedOut returns the credential c hands out now, if any.
func handedOut(t *testing.T, c *lakebase.Connector) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, err := c.Credential(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return []string{tok.Value}
}

// text is a string the SDK recorded, and where.
type text struct{ where, value string }

// texts returns every string recorded: span names, attributes, statuses,
// events and links, metric names, descriptions and point attributes.
func (s *otelSink) texts(t *testing.T) []text {
	t.Helper()
	var out []text
	kvs := func(where string, attrs []attribute.KeyValue) {
		for _, kv := range attrs {
			out = append(out, text{where + " attribute " + string(kv.Key), kv.Value.Emit()})
		}
	}
	for _, sp := range s.spans.Ended() {
		where := "span " + sp.Name()
		out = append(out, text{where, sp.Name()}, text{where + " status", sp.Status().Description})
		kvs(where, sp.Attributes())
		for _, e := range sp.Events() {
			out = append(out, text{where + " event", e.Name})
			kvs(where+" event "+e.Name, e.Attributes)
		}
		for _, l := range sp.Links() {
			kvs(where+" link", l.Attributes)
		}
	}
	for _, m := range s.collect(t) {
		where := "metric " + m.Name
		out = append(out, text{where, m.Name}, text{where + " description", m.Description})
		var sets []attribute.Set
		switch data := m.Data.(type) {
		case metricdata.Sum[int64]:
			for _, p := range data.DataPoints {
				sets = append(sets, p.Attributes)
			}
		case metricdata.Histogram[float64]:
			for _, p := range data.DataPoints {
				sets = append(sets, p.Attributes)
			}
		case metricdata.Gauge[float64]:
			for _, p := range data.DataPoints {
				sets = append(sets, p.Attributes)
			}
		default:
			t.Fatalf("metric %s: unexpected data %T", m.Name, m.Data)
		}
		for _, set := range sets {
			kvs(where, set.ToSlice())
		}
	}
	return out
}
