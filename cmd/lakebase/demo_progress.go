package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"
)

// How often progress is shown: a terminal's line is redrawn often; other
// outputs (logs, pipes) get a plain line now and then.
const (
	redrawEvery = 200 * time.Millisecond
	lineEvery   = time.Second
)

// progress shows a workload's counters while it runs: on one redrawn line
// on a terminal, as plain lines otherwise.
type progress struct {
	out      io.Writer
	w        *workload
	terminal bool
}

func newProgress(out io.Writer, w *workload, terminal bool) *progress {
	return &progress{out: out, w: w, terminal: terminal}
}

// run shows progress until ctx ends.
func (p *progress) run(ctx context.Context, start time.Time) {
	every := lineEvery
	if p.terminal {
		every = redrawEvery
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			p.show(now.Sub(start))
		}
	}
}

// done shows the final counters and ends a terminal's line.
func (p *progress) done(elapsed time.Duration) {
	p.show(elapsed)
	if p.terminal {
		fmt.Fprintln(p.out)
	}
}

// show writes one progress line.
func (p *progress) show(elapsed time.Duration) {
	c := p.w.counts()
	line := fmt.Sprintf("%6.1fs  queries %d  failed %d  connections %d  credentials %d  %s",
		elapsed.Seconds(), c.queries, c.failed, c.opened, c.stats.CredentialsMinted, nextRotation(c.stats.CredentialExpiry, time.Now()))
	if p.terminal {
		fmt.Fprint(p.out, "\r\x1b[K"+line)
		return
	}
	fmt.Fprintln(p.out, line)
}

// nextRotation says how long the current credential has left.
func nextRotation(expiry, now time.Time) string {
	if expiry.IsZero() {
		return "no credential yet"
	}
	return fmt.Sprintf("current credential expires in %.1fs", max(expiry.Sub(now), 0).Seconds())
}

// isTerminal reports whether w is a terminal that understands redrawing a
// line.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
