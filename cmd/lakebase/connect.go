package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/lakebase-go/lakebase"
)

// openConnector parses dsn and returns the parsed DSN and a Connector for
// it, which reads the environment for what the DSN leaves open. logger may be
// nil (silence); edits change the Config before the Connector is made. The
// caller closes the Connector.
func openConnector(dsn string, logger *slog.Logger, edits ...func(*lakebase.Config)) (*lakebase.Config, *lakebase.Connector, error) {
	cfg, err := lakebase.ParseDSN(dsn)
	if err != nil {
		return nil, nil, err
	}
	cfg.Logger = logger
	for _, edit := range edits {
		edit(cfg)
	}
	c, err := lakebase.NewConnector(cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, c, nil
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
