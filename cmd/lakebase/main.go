// Command lakebase is a companion to the lakebase driver: it runs a demo
// against a Lakebase emulated on this machine, checks a connection step by
// step, prints a fresh credential, and starts psql logged in with one.
//
//	lakebase demo [flags]                       a workload across credential rotations, no account needed
//	lakebase ping [flags] [DSN]                 connect once and report every step
//	lakebase token [flags] [DSN]                print a fresh credential
//	lakebase psql [flags] [DSN] [-- psql args]  run psql with a fresh credential in its environment
//
// The DSN is the driver's. Without one, the commands read LAKEBASE_DSN, and
// when that is unset too, the driver's own environment (DATABRICKS_*,
// LAKEBASE_*, PG*), as an empty DSN does.
//
// Exit codes: 0 success, 1 failure, 2 usage error (and, for the demo, no
// PostgreSQL to run); psql passes on psql's.
package main

import (
	"fmt"
	"io"
	"os"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// commands maps each subcommand to its entry point. Every entry point
// takes the arguments after the subcommand's name and returns an exit code.
var commands = map[string]func(args []string, stdout, stderr io.Writer) int{
	"demo":  runDemo,
	"ping":  runPing,
	"token": runToken,
	"psql":  runPsql,
}

// run runs the command line args (without the program name) and returns the
// exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch name := args[0]; name {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		cmd, ok := commands[name]
		if !ok {
			fmt.Fprintf(stderr, "lakebase: unknown command %q\n\n%s", name, usage)
			return exitUsage
		}
		return cmd(args[1:], stdout, stderr)
	}
}

const usage = `lakebase: companion to the lakebase Go driver for Databricks Lakebase

Usage:
  lakebase demo [flags]                       run a workload against a Lakebase emulated on this machine
  lakebase ping [flags] [DSN]                 connect once and report every step with its timing
  lakebase token [flags] [DSN]                print a fresh credential (for psql and other tools)
  lakebase psql [flags] [DSN] [-- psql args]  run psql with a fresh credential in its environment

Without a DSN argument the commands read LAKEBASE_DSN, and when that is unset
too, the driver's own environment (DATABRICKS_*, LAKEBASE_*, PG*).

Run 'lakebase <command> --help' for a command's flags.
`
