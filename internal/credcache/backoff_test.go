package credcache

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	tests := []struct {
		name     string
		min, max time.Duration
		failures int
		want     time.Duration // the longest wait; the shortest is half
	}{
		{"first failure", time.Second, time.Minute, 1, time.Second},
		{"doubles", time.Second, time.Minute, 3, 4 * time.Second},
		{"capped", time.Second, time.Minute, 7, time.Minute},
		{"many failures", time.Second, time.Minute, 1000, time.Minute},
		{"defaults", 0, 0, 2, 2 * time.Second},
		{"max below min", 5 * time.Second, time.Second, 2, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{MinBackoff: tt.min, MaxBackoff: tt.max}.withDefaults()
			for range 200 {
				if d := backoff(tt.failures, opts); d < tt.want/2 || d > tt.want {
					t.Fatalf("backoff = %s, want between %s and %s", d, tt.want/2, tt.want)
				}
			}
		})
	}
}
