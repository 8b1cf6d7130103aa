package main

import (
	"math"
	"slices"
	"time"
)

// median returns the middle of xs (the mean of the two middle values for an
// even count), or NaN for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// percentile returns the p-th percentile (0 < p <= 100) of xs by the
// nearest-rank method: the smallest value that at least p percent of xs do
// not exceed. It returns NaN for none.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Sorted(slices.Values(xs))
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

// spread is how far the values stray from their median, as a fraction of
// it: the larger of (max - median) and (median - min), divided by the
// median. It is 0 for one value and NaN for none or a zero median.
func spread(xs []float64) float64 {
	m := median(xs)
	if len(xs) == 0 || m == 0 {
		return math.NaN()
	}
	lo, hi := slices.Min(xs), slices.Max(xs)
	return max(hi-m, m-lo) / math.Abs(m)
}

// millis converts durations to milliseconds.
func millis(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = float64(d) / float64(time.Millisecond)
	}
	return out
}

// pairedRatio is the median of a[i]/b[i]: the ratio of measurements made one
// after the other, which a machine whose load comes and goes moves least.
func pairedRatio(a, b []time.Duration) float64 {
	ratios := make([]float64, min(len(a), len(b)))
	for i := range ratios {
		ratios[i] = float64(a[i]) / float64(b[i])
	}
	return median(ratios)
}
