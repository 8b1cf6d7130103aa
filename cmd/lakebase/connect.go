package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/lakebase-go/lakebase"
)

// openConnector reads cmd's DSN from fs's arguments (see dsnFrom) and
// returns the parsed DSN and a Connector for it, which reads the environment
// for what the DSN leaves open. logger may be nil (silence); edits change the
// Config before the Connector is made. When ok is false the command returns
// code at once: a misuse or a bad DSN has been reported on stderr. The caller
// closes the Connector.
func (cmd command) openConnector(fs *flag.FlagSet, stderr io.Writer, logger *slog.Logger, edits ...func(*lakebase.Config)) (cfg *lakebase.Config, c *lakebase.Connector, code int, ok bool) {
	dsn, err := dsnFrom(fs.Args())
	if err != nil {
		return nil, nil, cmd.usageError(fs, stderr, err.Error()+cmd.argsHint), false
	}
	if cfg, err = lakebase.ParseDSN(dsn); err == nil {
		cfg.Logger = logger
		for _, edit := range edits {
			edit(cfg)
		}
		c, err = lakebase.NewConnector(cfg)
	}
	if err != nil {
		diagnose(stderr, cmd.name, stepDSN, err)
		return nil, nil, exitFailure, false
	}
	return cfg, c, exitOK, true
}

// commandContext returns a context that ends after timeout (when positive)
// or at the first interrupt; a second interrupt kills the process as usual.
func commandContext(timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	if timeout <= 0 {
		return ctx, stop
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	return ctx, func() { cancel(); stop() }
}
