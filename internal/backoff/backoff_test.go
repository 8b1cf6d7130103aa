package backoff

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"
)

func TestWait(t *testing.T) {
	tests := []struct {
		name     string
		failures int
		want     time.Duration // the longest wait; the shortest is half
	}{
		{"first failure", 1, time.Second},
		{"doubles", 3, 4 * time.Second},
		{"capped", 7, time.Minute},
		{"many failures", 1000, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 200 {
				if d := Wait(tt.failures, time.Second, time.Minute); d < tt.want/2 || d > tt.want {
					t.Fatalf("Wait = %s, want between %s and %s", d, tt.want/2, tt.want)
				}
			}
		})
	}
}

func TestError(t *testing.T) {
	err := error(&Error{Err: io.ErrUnexpectedEOF, Next: 1234567 * time.Microsecond})
	if got, want := err.Error(), "unexpected EOF (next attempt in 1.235s)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := (&Error{Err: errors.New("refused\n"), Next: time.Second}).Error(), "refused (next attempt in 1s)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Error("errors.Is does not see the failure")
	}
}

func TestSleep(t *testing.T) {
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	closed := make(chan struct{})
	close(closed)
	tests := []struct {
		name string
		ctx  context.Context
		stop <-chan struct{}
		d    time.Duration
		want bool
	}{
		{"waits its time", context.Background(), nil, time.Millisecond, true},
		{"context ended", ended, nil, time.Hour, false},
		{"stopped", context.Background(), closed, time.Hour, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			if got := Sleep(tt.ctx, tt.d, tt.stop); got != tt.want {
				t.Errorf("Sleep = %v, want %v", got, tt.want)
			}
			if took := time.Since(start); tt.want && took < tt.d {
				t.Errorf("Sleep returned after %s, before its %s", took, tt.d)
			}
		})
	}
}
