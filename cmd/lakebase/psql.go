package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"syscall"
	"time"
)

var psqlCmd = command{
	name:     "psql",
	synopsis: "[flags] [DSN] [-- psql arguments]",
	about: `Runs psql logged in as the DSN says: it resolves the host, mints a
credential and starts psql with PGHOST, PGPORT, PGUSER, PGDATABASE,
PGSSLMODE, PGSSLROOTCERT (and PGSSLCERT, PGSSLKEY, PGCONNECT_TIMEOUT,
PGAPPNAME when the DSN names them) and PGPASSWORD in its environment. The
credential is never put on a command line, where other users could see it.
Arguments after -- go to psql; psql's exit code is passed on.

  lakebase psql "$DSN" -- -c 'select current_user'

` + dsnHelp,
	argsHint: " (put psql's arguments after --)",
}

// runPsql is the psql command.
func runPsql(args []string, stdout, stderr io.Writer) int {
	own, psqlArgs := splitAtDashes(args)
	fs := psqlCmd.flagSet()
	timeout := fs.Duration("timeout", 30*time.Second, "give up on the credential after this long (psql itself runs as long as it likes)")
	program := fs.String("psql", "psql", "the psql program to run")
	cfg, conn, code, ok := psqlCmd.start(fs, own, stdout, stderr)
	if !ok {
		return code
	}
	defer conn.Close()
	ctx, cancel := commandContext(*timeout)
	env, step, err := psqlEnv(ctx, cfg, conn, os.Environ())
	cancel()
	if err != nil {
		diagnose(stderr, psqlCmd.name, step, err)
		return exitFailure
	}

	cmd := exec.Command(*program, psqlArgs...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	// psql handles Ctrl-C itself (it cancels the running query); this
	// process must outlive it to pass on its exit code.
	interrupts := make(chan os.Signal, 1)
	signal.Notify(interrupts, os.Interrupt)
	defer signal.Stop(interrupts)
	return exitCode(cmd.Run(), *program, stderr)
}

// splitAtDashes splits args at the first "--": the command's own arguments
// before it, psql's after it.
func splitAtDashes(args []string) (own, rest []string) {
	i := slices.Index(args, "--")
	if i < 0 {
		return args, nil
	}
	return args[:i], args[i+1:]
}

// exitCode returns the exit code to pass on for psql's run: psql's own, or
// 128 plus the signal that killed it, as shells do.
func exitCode(err error, program string, stderr io.Writer) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(interface {
			Signaled() bool
			Signal() syscall.Signal
		}); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	default:
		fmt.Fprintf(stderr, "lakebase psql: run %s: %v\n  hint:   install the PostgreSQL client (psql), or name it with --psql\n", program, err)
		return exitFailure
	}
}
