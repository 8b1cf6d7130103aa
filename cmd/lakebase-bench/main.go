package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"
)

func main() {
	var opts Options
	flag.BoolVar(&opts.Short, "short", false, "a few iterations, for CI; enforce only the targets that noise cannot move")
	flag.IntVar(&opts.Count, "count", 0, "rounds; every value is the median over rounds (default 6, or 1 with -short)")
	flag.DurationVar(&opts.MintLatency, "mint-latency", 50*time.Millisecond, "how long the fake workspace takes to mint a credential")
	flag.IntVar(&opts.StormSize, "storm", 0, "goroutines in the storm (default 1000, or 200 with -short)")
	flag.IntVar(&opts.Users, "users", 0, "signed-in users of the users case (default 200, or 50 with -short)")
	flag.IntVar(&opts.Held, "held", 0, "client connections the pooler case holds open at once (default 2000, or 200 with -short)")
	flag.DurationVar(&opts.Hour, "hour", 6*time.Second, "real time standing for one hour (a credential's lifetime) in the rotation and naive cases")
	cases := flag.String("cases", "", "comma-separated cases to run (default all): "+strings.Join(Cases, ","))
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to `file`")
	memProfile := flag.String("memprofile", "", "write an allocation profile of the whole run to `file`")
	flag.Parse()
	if *cases != "" {
		opts.Cases = strings.Split(*cases, ",")
	}
	os.Exit(run(opts, *cpuProfile, *memProfile))
}

// run runs the suite and returns the exit status.
func run(opts Options, cpuProfile, memProfile string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if opts.Short && opts.Count == 0 {
		opts.Count = 1
	}
	opts.Progress = func(round int, what string) {
		fmt.Fprintf(os.Stderr, "round %d: %s\n", round, what)
	}
	if memProfile != "" {
		runtime.MemProfileRate = 4096
	}
	if cpuProfile != "" {
		stopProfile, err := startCPUProfile(cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		defer stopProfile()
	}

	start := time.Now()
	res, err := Run(ctx, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	fmt.Fprintf(os.Stdout, "<!-- go run ./cmd/lakebase-bench %s: %s; %d CPUs, %s -->\n\n", strings.Join(os.Args[1:], " "),
		time.Since(start).Round(time.Second), runtime.NumCPU(), runtime.Version())
	ok := WriteReport(os.Stdout, res, opts.Short)
	if memProfile != "" {
		if err := writeProfile(memProfile, "allocs"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	if !ok {
		fmt.Fprintln(os.Stderr, "bench: a target was missed")
		return 1
	}
	return 0
}

// startCPUProfile starts profiling the CPU into path.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}

// writeProfile writes the named runtime profile to path.
func writeProfile(path, name string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = pprof.Lookup(name).WriteTo(f, 0)
	return closeWith(f, err)
}

// closeWith closes c and returns the first error.
func closeWith(c io.Closer, err error) error {
	if cerr := c.Close(); err == nil {
		return cerr
	}
	return err
}
