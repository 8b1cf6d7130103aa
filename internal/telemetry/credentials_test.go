package telemetry

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase/internal/credcache"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// A credential fetch is a client span: under the mint step of the connect
// that waits for it, or, for a background refresh, a trace of its own
// linked to the connect that noticed the refresh window. Each is counted by
// outcome, a failed refresh once more, and a fetch that Close stopped not
// at all.
func TestCredentialFetches(t *testing.T) {
	for _, tc := range []struct {
		name      string
		refresh   bool
		err       error
		counted   bool   // in lakebase.credential.mints and its duration
		outcome   string // of the counted fetch
		refreshes int    // lakebase.credential.refresh.failures
	}{
		{name: "first mint", counted: true, outcome: "success"},
		{name: "refresh", refresh: true, counted: true, outcome: "success"},
		{name: "failed mint", err: errors.New("forbidden"), counted: true, outcome: "failure"},
		{name: "failed refresh", refresh: true, err: errors.New("forbidden"), counted: true, outcome: "failure", refreshes: 1},
		{name: "stopped by Close", err: fmt.Errorf("fetch: %w", credcache.ErrClosed)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tel, r := newRecorded(t, Settings{DBName: "db", Instance: "i"})
			ctx, _ := tel.StartConnect(context.Background())
			sctx, _ := tel.Step(ctx, SpanMint)
			obs := tel.CredentialObserver()
			fctx := obs.FetchStarted(sctx, tc.refresh)
			var expiry time.Time
			if tc.err == nil {
				expiry = time.Now().Add(time.Hour)
			}
			obs.FetchEnded(fctx, tc.refresh, expiry, tc.err, 20*time.Millisecond)

			fetches := r.named(spanFetch)
			if len(fetches) != 1 {
				t.Fatalf("%d fetch spans, want 1", len(fetches))
			}
			sp := fetches[0]
			if sp.kind != trace.SpanKindClient || sp.ended != 1 {
				t.Errorf("fetch span: kind %v, ended %d times; want a client span ended once", sp.kind, sp.ended)
			}
			switch {
			case tc.refresh && (sp.parent != nil || !sp.newRoot || sp.links != 1):
				t.Errorf("refresh span: parent %v, new root %t, %d links; want a root with one link", sp.parent, sp.newRoot, sp.links)
			case !tc.refresh && (sp.parent == nil || sp.parent.name != SpanMint):
				t.Errorf("fetch span's parent %v, want the lakebase.mint step", sp.parent)
			}
			wantAttrs(t, "fetch span", sp.attrs, attrDBSystem.String("postgresql"), attrInstance.String("i"), attrRefresh.Bool(tc.refresh))
			checkKeys(t, "fetch span", sp.attrs)
			if lifetime, ok := sp.attr(attrLifetime); (tc.err == nil) != ok || (ok && (lifetime.AsInt64() < 3590 || lifetime.AsInt64() > 3600)) {
				t.Errorf("lakebase.credential.lifetime = %v (set: %t); want about 3600 s on a success only", lifetime.Emit(), ok)
			}
			if failed := sp.code == codes.Error; failed != (tc.err != nil) {
				t.Errorf("fetch span failed %t, want %t", failed, tc.err != nil)
			}

			mints, durations := r.measured("lakebase.credential.mints"), r.measured("lakebase.credential.mint.duration")
			if counted := len(mints) == 1 && len(durations) == 1; counted != tc.counted || len(mints) > 1 {
				t.Fatalf("%d mints and %d durations counted, want one each: %t", len(mints), len(durations), tc.counted)
			}
			if tc.counted {
				wantAttrs(t, "lakebase.credential.mints", mints[0].attrs.ToSlice(), attrOutcome.String(tc.outcome), attrInstance.String("i"))
				checkKeys(t, "lakebase.credential.mints", mints[0].attrs.ToSlice())
				if d := durations[0].value; d != 0.02 {
					t.Errorf("mint.duration = %v s, want 0.02", d)
				}
			}
			if n := len(r.measured("lakebase.credential.refresh.failures")); n != tc.refreshes {
				t.Errorf("%d refresh failures counted, want %d", n, tc.refreshes)
			}
		})
	}
}
