package credcache

import (
	"errors"
	"testing"
	"time"
)

// epoch is a fixed instant that tests count from.
var epoch = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func TestNewEntryInstants(t *testing.T) {
	tests := []struct {
		name             string
		lifetime         time.Duration
		margin, window   time.Duration // options
		wantUsable       time.Duration // before expiry
		wantRefreshStart time.Duration // before expiry
	}{
		{"one hour, defaults", time.Hour, 0, 0, 30 * time.Second, 5 * time.Minute},
		{"ten minutes, defaults", 10 * time.Minute, 0, 0, 30 * time.Second, 150 * time.Second},
		{"one minute, defaults", time.Minute, 0, 0, 6 * time.Second, 15 * time.Second},
		{"explicit", time.Hour, time.Minute, 10 * time.Minute, time.Minute, 10 * time.Minute},
		{"window inside the margin", time.Hour, time.Minute, 10 * time.Second, time.Minute, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expiry := epoch.Add(tt.lifetime)
			opts := Options{SafetyMargin: tt.margin, RefreshWindow: tt.window}.withDefaults()
			e, err := newEntry(minted{"v", expiry}, epoch, opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := expiry.Sub(e.usableUntil); got != tt.wantUsable {
				t.Errorf("usable until %s before expiry, want %s", got, tt.wantUsable)
			}
			if got := expiry.Sub(e.refreshAt); got != tt.wantRefreshStart {
				t.Errorf("refresh starts %s before expiry, want %s", got, tt.wantRefreshStart)
			}
		})
	}
}

func TestNewEntryStripsMonotonicClock(t *testing.T) {
	now := time.Now()
	e, err := newEntry(minted{"v", now.Add(time.Hour)}, now.Round(0), Options{}.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	if e.cred.expiry != e.cred.expiry.Round(0) {
		t.Error("the cached expiry keeps a monotonic clock reading")
	}
}

func TestNewEntryRejectsShortLived(t *testing.T) {
	for _, lifetime := range []time.Duration{-time.Hour, 0, 30 * time.Second} {
		opts := Options{SafetyMargin: 30 * time.Second}.withDefaults()
		_, err := newEntry(minted{"v", epoch.Add(lifetime)}, epoch, opts)
		if !errors.Is(err, ErrExpired) {
			t.Errorf("lifetime %s: err = %v, want ErrExpired", lifetime, err)
		}
	}
}
