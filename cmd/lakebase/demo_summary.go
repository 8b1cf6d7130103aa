package main

import (
	"fmt"
	"io"
	"time"
)

// summary is what a demo run did.
type summary struct {
	elapsed      time.Duration
	interrupted  bool
	queries      int64
	failed       int64
	opened       int64
	minted       uint64 // by the driver's count
	mintsSeen    int    // by the workspace's count
	slowest      time.Duration
	firstFailure error
}

// summary returns the workload's summary after a run of elapsed; mintsSeen is
// the workspace's count of credentials minted.
func (w *workload) summary(elapsed time.Duration, mintsSeen int, interrupted bool) summary {
	c := w.counts()
	w.mu.Lock()
	defer w.mu.Unlock()
	return summary{
		elapsed: elapsed, interrupted: interrupted,
		queries: c.queries, failed: c.failed, opened: c.opened,
		minted: c.stats.CredentialsMinted, mintsSeen: mintsSeen,
		slowest:      time.Duration(w.conn.slowest.Load()),
		firstFailure: w.firstFailure,
	}
}

// rotations counts the credentials that replaced an earlier one.
func (s summary) rotations() uint64 {
	if s.minted == 0 {
		return 0
	}
	return s.minted - 1
}

// print writes the summary block.
func (s summary) print(w io.Writer) {
	fmt.Fprintln(w, "\nSummary")
	duration := round(s.elapsed).String()
	if s.interrupted {
		duration += " (interrupted)"
	}
	rate := float64(s.queries) / s.elapsed.Seconds()
	fmt.Fprintf(w, "  duration             %s\n", duration)
	fmt.Fprintf(w, "  queries              %d (%.0f/s)\n", s.queries, rate)
	fmt.Fprintf(w, "  failed queries       %d\n", s.failed)
	fmt.Fprintf(w, "  connections opened   %d\n", s.opened)
	fmt.Fprintf(w, "  credentials minted   %d (the workspace counted %d)\n", s.minted, s.mintsSeen)
	fmt.Fprintf(w, "  rotations survived   %d\n", s.rotations())
	fmt.Fprintf(w, "  slowest connect      %s\n", round(s.slowest))
	if s.failed > 0 {
		fmt.Fprintf(w, "FAILED: %d of %d queries failed; the first: %v\n", s.failed, s.queries, s.firstFailure)
		return
	}
	fmt.Fprintf(w, "OK: every query succeeded across %d credential rotations.\n", s.rotations())
}
