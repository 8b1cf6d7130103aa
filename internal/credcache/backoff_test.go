package credcache

import (
	"testing"
	"time"
)

// The backoff bounds that Options leave open or set inconsistently.
func TestBackoffOptions(t *testing.T) {
	tests := []struct {
		name             string
		min, max         time.Duration
		wantMin, wantMax time.Duration
	}{
		{"defaults", 0, 0, time.Second, time.Minute},
		{"set", 2 * time.Second, 10 * time.Second, 2 * time.Second, 10 * time.Second},
		{"max below min", 5 * time.Second, time.Second, 5 * time.Second, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Options{MinBackoff: tt.min, MaxBackoff: tt.max}.withDefaults()
			if o.MinBackoff != tt.wantMin || o.MaxBackoff != tt.wantMax {
				t.Errorf("backoff bounds %s to %s, want %s to %s", o.MinBackoff, o.MaxBackoff, tt.wantMin, tt.wantMax)
			}
		})
	}
}
