package credcache

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// observed is what a recordingObserver heard of one fetch.
type observed struct {
	refresh bool
	expiry  time.Time
	err     error
	marked  bool // FetchEnded got the context FetchStarted returned
}

// recordingObserver records the fetches it is told of.
type recordingObserver struct {
	mu      sync.Mutex
	started int
	ended   []observed
}

type markKey struct{}

func (o *recordingObserver) FetchStarted(ctx context.Context, refresh bool) context.Context {
	o.mu.Lock()
	o.started++
	o.mu.Unlock()
	return context.WithValue(ctx, markKey{}, true)
}

func (o *recordingObserver) FetchEnded(ctx context.Context, refresh bool, expiry time.Time, err error, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ended = append(o.ended, observed{refresh: refresh, expiry: expiry, err: err, marked: ctx.Value(markKey{}) == true})
}

func (o *recordingObserver) snapshot() (int, []observed) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.started, append([]observed(nil), o.ended...)
}

// The observer hears of every fetch, with its outcome and whether it was a
// background refresh, before the waiters get the outcome; a cache hit is
// not a fetch.
func TestObserverHearsEveryFetch(t *testing.T) {
	clock := newClock()
	refused := errors.New("refused")
	s := failingAt(clock, time.Hour, refused, 2)
	obs := &recordingObserver{}
	c := New(s.fetch, Options{Now: clock.Now, Observer: obs, MinBackoff: time.Second, MaxBackoff: time.Second})
	defer c.Close()

	mustGet(t, c) // cold: the caller waits
	if _, ended := obs.snapshot(); len(ended) != 1 {
		t.Fatalf("Get returned before the observer heard the fetch end (%d ended)", len(ended))
	}
	mustGet(t, c) // a hit
	clock.Advance(56 * time.Minute)
	mustGet(t, c) // in the window: a refresh, which fails
	waitIdle(c)
	clock.Advance(2 * time.Second)
	mustGet(t, c) // after the backoff: a refresh again
	waitIdle(c)

	want := []observed{
		{refresh: false, expiry: epoch.Add(time.Hour), marked: true},
		{refresh: true, err: refused, marked: true},
		{refresh: true, expiry: epoch.Add(56*time.Minute + 2*time.Second + time.Hour), marked: true},
	}
	started, ended := obs.snapshot()
	if started != len(want) || len(ended) != len(want) {
		t.Fatalf("observer heard %d starts and %d ends, want %d of each", started, len(ended), len(want))
	}
	for i, w := range want {
		got := ended[i]
		if got.refresh != w.refresh || !got.expiry.Equal(w.expiry) || !errors.Is(got.err, w.err) || (w.err == nil) != (got.err == nil) || !got.marked {
			t.Errorf("fetch %d: observed %+v, want %+v", i+1, got, w)
		}
	}
}
