package main

import (
	"context"
	"flag"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/lakebase-go/lakebase"
)

// start parses cmd's flags in args with fs, reads its DSN from the
// arguments left (see dsnFrom) and returns the parsed DSN and a Connector for
// it, which reads the environment for what the DSN leaves open. edits change
// the Config before the Connector is made, after the flags are parsed; an
// edit's error is reported as a bad DSN's. When
// ok is false the command returns code at once: after --help, a misuse or a
// bad DSN, each reported as parse says. The caller closes the Connector.
func (cmd command) start(fs *flag.FlagSet, args []string, stdout, stderr io.Writer, edits ...func(*lakebase.Config) error) (cfg *lakebase.Config, c *lakebase.Connector, code int, ok bool) {
	if code, ok := cmd.parse(fs, args, stdout, stderr); !ok {
		return nil, nil, code, false
	}
	dsn, err := dsnFrom(fs.Args())
	if err != nil {
		return nil, nil, cmd.usageError(fs, stderr, err.Error()+cmd.argsHint), false
	}
	if cfg, err = lakebase.ParseDSN(dsn); err == nil {
		for _, edit := range edits {
			if err = edit(cfg); err != nil {
				break
			}
		}
		if err == nil {
			c, err = lakebase.NewConnector(cfg)
		}
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
