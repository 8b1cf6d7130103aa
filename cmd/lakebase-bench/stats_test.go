package main

import (
	"math"
	"testing"
	"time"
)

func TestMedianPercentileSpread(t *testing.T) {
	cases := []struct {
		name              string
		xs                []float64
		median, p99, sprd float64
	}{
		{"none", nil, math.NaN(), math.NaN(), math.NaN()},
		{"one", []float64{4}, 4, 4, 0},
		{"odd", []float64{3, 1, 2}, 2, 3, 0.5},
		{"even", []float64{4, 1, 3, 2}, 2.5, 4, 0.6},
		{"hundred", seq(100), 50.5, 99, 49.5 / 50.5},
		{"p99 of 200 is the 198th", seq(200), 100.5, 198, 99.5 / 100.5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, got := range []struct {
				what      string
				got, want float64
			}{
				{"median", median(tc.xs), tc.median},
				{"p99", percentile(tc.xs, 99), tc.p99},
				{"spread", spread(tc.xs), tc.sprd},
			} {
				if !same(got.got, got.want) {
					t.Errorf("%s(%v) = %v, want %v", got.what, tc.xs, got.got, got.want)
				}
			}
		})
	}
}

func TestStatsLeaveInputAlone(t *testing.T) {
	xs := []float64{3, 1, 2}
	_, _ = median(xs), percentile(xs, 50)
	if xs[0] != 3 || xs[1] != 1 || xs[2] != 2 {
		t.Errorf("input reordered: %v", xs)
	}
}

// seq returns 1..n.
func seq(n int) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = float64(i + 1)
	}
	return xs
}

// same compares floats, NaN equal to NaN.
func same(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) < 1e-9
}

func nan() float64 { return math.NaN() }

func TestScaled(t *testing.T) {
	p := trafficPlan{hour: 6 * time.Second}
	for d, want := range map[time.Duration]time.Duration{
		time.Hour: 6 * time.Second, 15 * time.Minute: 1500 * time.Millisecond,
		5 * time.Minute: 500 * time.Millisecond, 30 * time.Second: 50 * time.Millisecond,
	} {
		if got := p.scaled(d); got != want {
			t.Errorf("scaled(%s) = %s, want %s", d, got, want)
		}
	}
}
