package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
	"github.com/lakebase-go/lakebase/lakebasetest/pgserver"
)

var demoCmd = command{
	name:     "demo",
	synopsis: "[flags]",
	about: `Starts a Lakebase on this machine (a throwaway PostgreSQL, a fake Databricks
workspace and a TLS gateway that checks credentials, from the lakebasetest
package) and runs a workload through the driver as a service principal with
OAuth M2M. Credentials live a few seconds instead of an hour, and the pool
keeps few connections for a short time, so new connections keep arriving
while credentials rotate. It shows progress, then a summary, and exits 1 if
any query failed. No Databricks account is needed. PostgreSQL's installed
server binaries are used if there are any; otherwise the first run downloads
PostgreSQL (about 10 MB, kept in the user's cache directory; the
LAKEBASE_TEST_POSTGRES_* variables set a mirror or a downloaded copy). It
exits 2 when it has no PostgreSQL to run. With --pooled the workload goes to
an Autoscaling endpoint's pooled host instead: the gateway in front of a
PgBouncer in transaction mode (pgbouncer must be installed; exit 2 without).`,
}

// demoOptions are the demo's flags.
type demoOptions struct {
	duration time.Duration
	lifetime time.Duration
	workers  int
	pooled   bool
}

// check rejects options the demo cannot run with.
func (o demoOptions) check() error {
	switch {
	case o.duration <= 0:
		return errors.New("--duration must be positive")
	case o.lifetime < time.Second:
		return errors.New("--lifetime must be at least 1s")
	case o.workers < 1 || o.workers > 64:
		return errors.New("--workers must be between 1 and 64")
	}
	return nil
}

// runDemo is the demo command.
func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := demoCmd.flagSet()
	var o demoOptions
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "how long the workload runs")
	fs.DurationVar(&o.lifetime, "lifetime", 5*time.Second, "how long each credential lives (an hour on Lakebase)")
	fs.IntVar(&o.workers, "workers", 4, "how many goroutines run queries")
	fs.BoolVar(&o.pooled, "pooled", false, "run through the endpoint's pooled host (PgBouncer, transaction mode)")
	if code, ok := demoCmd.parse(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return demoCmd.usageError(fs, stderr, "demo takes no arguments")
	}
	if err := o.check(); err != nil {
		return demoCmd.usageError(fs, stderr, err.Error())
	}
	ctx, stop := commandContext(0)
	defer stop()
	return demo(ctx, o, stdout, stderr)
}

// demo starts the kit, runs the workload until o.duration has passed or ctx
// ends (an interrupt), prints the summary and stops the kit.
func demo(ctx context.Context, o demoOptions, stdout, stderr io.Writer) (code int) {
	fmt.Fprintln(stdout, "Starting a Lakebase on this machine: PostgreSQL, a fake Databricks workspace, TLS gateways...")
	kit, err := lakebasetest.Start(ctx, lakebasetest.Options{
		CredentialLifetime: o.lifetime,
		// Only the first run downloads, when no PostgreSQL is installed.
		Postgres: pgserver.Options{Download: pgserver.DownloadOptions{Progress: stdout}},
	})
	if errors.Is(err, pgserver.ErrNotFound) {
		// Nothing to run the demo with: the message says how to get it.
		fmt.Fprintf(stderr, "lakebase demo: %v\n", err)
		return exitUsage
	}
	if err != nil {
		fmt.Fprintf(stderr, "lakebase demo: start the test kit: %v\n", err)
		return exitFailure
	}
	defer func() {
		if err := kit.Close(); err != nil {
			fmt.Fprintf(stderr, "lakebase demo: stop the test kit: %v\n", err)
			code = exitFailure
		}
	}()

	dsn := kit.DSNs().M2M
	if o.pooled {
		err := kit.StartPgBouncer(ctx)
		if errors.Is(err, pgserver.ErrPgBouncerNotFound) {
			fmt.Fprintf(stderr, "lakebase demo: %v\n", err)
			return exitUsage
		}
		if err != nil {
			fmt.Fprintf(stderr, "lakebase demo: start PgBouncer: %v\n", err)
			return exitFailure
		}
		dsn = kit.DSNs().Endpoint + " pooled=true"
	}
	cfg, err := lakebase.ParseDSN(dsn)
	if err != nil {
		fmt.Fprintf(stderr, "lakebase demo: %v\n", err)
		return exitFailure
	}
	conn, err := lakebase.NewConnector(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "lakebase demo: %v\n", err)
		return exitFailure
	}
	w := newWorkload(ctx, conn, kit.ServicePrincipal.ApplicationID)
	defer w.close()
	printSetup(stdout, kit, cfg, o)

	runCtx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	p := newProgress(stdout, w, isTerminal(stdout))
	elapsed := w.run(runCtx, o.workers, p)
	s := w.summary(elapsed, kit.Workspace.Mints(), ctx.Err() != nil)
	s.print(stdout)
	if s.failed > 0 {
		return exitFailure
	}
	return exitOK
}

// printSetup describes what the kit runs and what the workload will do.
func printSetup(w io.Writer, kit *lakebasetest.Kit, cfg *lakebase.Config, o demoOptions) {
	fmt.Fprintf(w, "  workspace  %s (fake)\n", kit.Workspace.URL())
	if o.pooled {
		fmt.Fprintf(w, "  endpoint   %s: pooled host, a gateway (TLS, checks credentials) in front of PgBouncer (transaction mode), PostgreSQL %s:%d\n",
			lakebasetest.DefaultEndpoint, kit.Postgres.Host(), kit.Postgres.Port())
	} else {
		gw := kit.InstanceGateway()
		fmt.Fprintf(w, "  instance   %s: gateway %s:%d (TLS, checks credentials), PostgreSQL %s:%d\n",
			lakebasetest.DefaultInstance, gw.Host(), gw.Port(), kit.Postgres.Host(), kit.Postgres.Port())
	}
	fmt.Fprintf(w, "  identity   service principal %s (OAuth M2M)\n", kit.ServicePrincipal.ApplicationID)
	fmt.Fprintf(w, "  workload   %d workers for %s; credentials live %s; the pool keeps %d idle connection, each for at most %s\n",
		o.workers, o.duration, o.lifetime, maxIdle, maxLifetime)
	fmt.Fprintf(w, "  DSN        %s\n\n", cfg) // String redacts the client secret
}
