package telemetry

import (
	"context"
	"errors"
	"maps"
	"slices"
	"testing"
	"time"
)

// errorTypeOf is the tests' Settings.ErrorType: a fixed name, never the
// error's text.
func errorTypeOf(error) string { return "boom_type" }

// newRecorded returns instrumentation reporting to a recorder, for s with
// the tests' error types.
func newRecorded(t *testing.T, s Settings) (*Telemetry, *record) {
	t.Helper()
	r := newRecord()
	s.MeterProvider, s.TracerProvider, s.ErrorType = r.meterProvider(), r.tracerProvider(), errorTypeOf
	tel, err := New(s)
	if err != nil || tel == nil {
		t.Fatalf("New = %v, %v", tel, err)
	}
	return tel, r
}

// The instruments a connector reports with, with their names: the public
// contract of docs/OBSERVABILITY.md.
var instrumentNames = []string{
	"lakebase.connect.duration",
	"lakebase.credential.mint.duration",
	"lakebase.credential.mints",
	"lakebase.credential.refresh.failures",
	"lakebase.credential.remaining_lifetime",
	"lakebase.credential.waits",
	"lakebase.login.retries",
	"lakebase.lookups",
}

// New takes one meter and one tracer, named after the module, and makes
// each instrument once; connects, lookups and fetches, however many, make
// none. Observe registers one callback, which Close unregisters.
func TestInstrumentsCreatedOnce(t *testing.T) {
	tel, r := newRecorded(t, Settings{DBName: "db", Instance: "i"})
	ctx := context.Background()
	if err := tel.Observe(func() Observed { return Observed{} }); err != nil {
		t.Fatal(err)
	}
	obs := tel.CredentialObserver()
	for i := range 50 {
		connectPath(tel, ctx)
		_, end := tel.Lookup(ctx, nil, LookupHost)
		end(nil)
		fctx := obs.FetchStarted(ctx, i%2 == 0)
		obs.FetchEnded(fctx, i%2 == 0, time.Now().Add(time.Hour), errors.New("boom"), time.Millisecond)
		tel.EndConnect(ctx, nil, time.Now(), errors.New("boom"), "mint")
	}
	if err := r.collect(); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	meters, tracers, instruments := slices.Clone(r.meters), slices.Clone(r.tracers), maps.Clone(r.instruments)
	r.mu.Unlock()
	if !slices.Equal(meters, []string{instrumentationName}) || !slices.Equal(tracers, []string{instrumentationName}) {
		t.Errorf("meters %v, tracers %v; want one of each, named %s", meters, tracers, instrumentationName)
	}
	if got := slices.Sorted(maps.Keys(instruments)); !slices.Equal(got, instrumentNames) {
		t.Errorf("instruments %v, want %v", got, instrumentNames)
	}
	for name, n := range instruments {
		if n != 1 {
			t.Errorf("instrument %s made %d times, want once", name, n)
		}
	}
	if n := r.registered(); n != 1 {
		t.Errorf("%d callbacks registered, want 1", n)
	}
	tel.Close()
	if n := r.registered(); n != 0 {
		t.Errorf("%d callbacks registered after Close, want 0", n)
	}
}

// The observed instruments report the connector's Stats when the reader
// collects; the remaining lifetime only while there is a credential.
func TestObservedInstruments(t *testing.T) {
	tel, r := newRecorded(t, Settings{DBName: "db", Endpoint: "projects/p/branches/b/endpoints/e"})
	var expiry time.Time
	if err := tel.Observe(func() Observed { return Observed{CredentialWaits: 3, LoginRetries: 2, CredentialExpiry: expiry} }); err != nil {
		t.Fatal(err)
	}
	if err := r.collect(); err != nil {
		t.Fatal(err)
	}
	if p := r.measured("lakebase.credential.remaining_lifetime"); len(p) != 0 {
		t.Errorf("remaining lifetime reported without a credential: %v", p)
	}
	expiry = time.Now().Add(time.Minute)
	if err := r.collect(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		lo, hi float64
	}{
		{"lakebase.credential.waits", 3, 3},
		{"lakebase.login.retries", 2, 2},
		{"lakebase.credential.remaining_lifetime", 50, 60},
	} {
		p := r.measured(tc.name)
		if len(p) == 0 {
			t.Errorf("%s not observed", tc.name)
			continue
		}
		if last := p[len(p)-1]; last.value < tc.lo || last.value > tc.hi {
			t.Errorf("%s = %v, want %v to %v", tc.name, last.value, tc.lo, tc.hi)
		}
	}
}
