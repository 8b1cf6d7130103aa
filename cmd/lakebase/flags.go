package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// command describes a subcommand for its --help text.
type command struct {
	name     string // "ping"
	synopsis string // "[flags] [DSN]"
	about    string // what it does, one paragraph or more
	argsHint string // added to the error about too many arguments
}

// flagSet returns an empty FlagSet for cmd that prints nothing by itself:
// parse decides where help and errors go.
func (cmd command) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("lakebase "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parse parses args with fs. When it returns false the command must return
// code at once: exitOK after --help (printed to stdout), exitUsage after a
// bad flag (reported to stderr with the usage).
func (cmd command) parse(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (code int, ok bool) {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return exitOK, true
	case errors.Is(err, flag.ErrHelp):
		cmd.usage(stdout, fs)
		return exitOK, false
	default:
		return cmd.usageError(fs, stderr, err.Error()), false
	}
}

// usageError reports a misuse of cmd and returns exitUsage.
func (cmd command) usageError(fs *flag.FlagSet, stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "lakebase %s: %s\n\n", cmd.name, msg)
	cmd.usage(stderr, fs)
	return exitUsage
}

// usage writes cmd's help: synopsis, description and flags.
func (cmd command) usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: lakebase %s %s\n\n%s\n", cmd.name, cmd.synopsis, cmd.about)
	fmt.Fprintln(w, "\nFlags:")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// dsnHelp ends the help of every command that takes a DSN.
const dsnHelp = `DSN is a lakebase DSN in either spelling ("instance=my-db auth=oauth-m2m" or
"lakebase://host/dbname?..."). Without it, LAKEBASE_DSN is read, and when that
is unset too, the empty DSN: the driver then takes everything from its
environment (DATABRICKS_*, LAKEBASE_*, PG*).`

// dsnFrom returns the DSN of a command: its one positional argument, else
// LAKEBASE_DSN, else the empty DSN. More than one argument is an error.
func dsnFrom(args []string) (string, error) {
	switch len(args) {
	case 0:
		return os.Getenv("LAKEBASE_DSN"), nil
	case 1:
		return args[0], nil
	default:
		return "", fmt.Errorf("expected at most one DSN argument, got %d arguments", len(args))
	}
}
