package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/lakebase-go/lakebase"
)

var pingCmd = command{
	name:     "ping",
	synopsis: "[flags] [DSN]",
	about: `Connects once, as the driver does, and reports every step with its timing:
resolve (the host of the instance or endpoint), identity (the Postgres role),
mint (a credential and its expiry), connect (dial, TLS, login) and a query of
the server's version, current_user and address. On failure it names the step
that failed and says what to check. It never prints a secret.

With -trace it connects through the driver in one go instead and prints the
tree of the driver's OpenTelemetry spans for that connect: each step
(resolve, identity, mint, dial, login) with the workspace calls under it
and their timings, and which span failed.

` + dsnHelp,
}

// runPing is the ping command.
func runPing(args []string, stdout, stderr io.Writer) int {
	fs := pingCmd.flagSet()
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	verbose := fs.Bool("v", false, "log the driver's own events to stderr")
	traced := fs.Bool("trace", false, "connect in one go and print the tree of the driver's spans, with each step's timing")
	var tree *spanTree // the spans of -trace
	_, conn, code, ok := pingCmd.start(fs, args, stdout, stderr, func(c *lakebase.Config) error {
		if *verbose {
			c.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
		if *traced {
			tree = &spanTree{}
			c.TracerProvider = tree
		}
		return nil
	})
	if !ok {
		return code
	}
	defer conn.Close()
	ctx, cancel := commandContext(*timeout)
	defer cancel()
	run := ping
	if tree != nil {
		run = func(ctx context.Context, c *lakebase.Connector, w io.Writer) (string, error) {
			return pingTraced(ctx, c, tree, w)
		}
	}
	if step, err := run(ctx, conn, stdout); err != nil {
		diagnose(stderr, pingCmd.name, step, err)
		return exitFailure
	}
	return exitOK
}

// pingQuery asks the server who and what it is.
const pingQuery = `SELECT version(), current_user, coalesce(host(inet_server_addr()), 'local socket')`

// ping runs the steps of a connection one by one, printing each with its
// timing to w. On failure it returns the step that failed and the error.
func ping(ctx context.Context, c *lakebase.Connector, w io.Writer) (step string, err error) {
	start := time.Now()
	report := func(step string, began time.Time, detail string) {
		fmt.Fprintf(w, "%-9s %9s  %s\n", step, round(time.Since(began)), detail)
	}

	began := time.Now()
	host, port, err := c.Host(ctx)
	if err != nil {
		return "resolve", err
	}
	report("resolve", began, "host "+net.JoinHostPort(host, strconv.Itoa(port)))

	began = time.Now()
	user, err := c.User(ctx)
	if err != nil {
		return "identity", err
	}
	report("identity", began, "user "+user)

	began = time.Now()
	tok, err := c.Credential(ctx)
	if err != nil {
		return "mint", err
	}
	report("mint", began, describeExpiry(tok.Expiry, time.Now()))

	db := sql.OpenDB(c)
	defer db.Close()
	began = time.Now()
	sc, err := db.Conn(ctx)
	if err != nil {
		return "connect", err
	}
	defer sc.Close()
	report("connect", began, "logged in")

	began = time.Now()
	var version, currentUser, addr string
	if err := sc.QueryRowContext(ctx, pingQuery).Scan(&version, &currentUser, &addr); err != nil {
		return stepQuery, err
	}
	report("query", began, fmt.Sprintf("current_user %s, server address %s", currentUser, addr))

	fmt.Fprintf(w, "server    %s\n", version)
	fmt.Fprintf(w, "ok in %s\n", round(time.Since(start)))
	return "", nil
}

// pingTraced connects once through the driver, prints the tree of the
// connect's spans to w, then queries as ping does. On failure it returns
// the step that failed and the error, after the tree.
func pingTraced(ctx context.Context, c *lakebase.Connector, tree *spanTree, w io.Writer) (step string, err error) {
	start := time.Now()
	db := sql.OpenDB(c)
	defer db.Close()
	sc, err := db.Conn(ctx)
	tree.write(w)
	if err != nil {
		return "connect", err
	}
	defer sc.Close()
	var version, currentUser, addr string
	if err := sc.QueryRowContext(ctx, pingQuery).Scan(&version, &currentUser, &addr); err != nil {
		return stepQuery, err
	}
	fmt.Fprintf(w, "current_user %s, server address %s\n", currentUser, addr)
	fmt.Fprintf(w, "server    %s\n", version)
	fmt.Fprintf(w, "ok in %s\n", round(time.Since(start)))
	return "", nil
}
