package main

import (
	"fmt"
	"io"
	"time"
)

var tokenCmd = command{
	name:     "token",
	synopsis: "[flags] [DSN]",
	about: `Prints a fresh credential on stdout and nothing else, for psql and other
tools that take the password from a variable:

  PGPASSWORD="$(lakebase token "$DSN")" some-tool ...

With a native role (auth=password) the credential is the role's password.
Errors go to stderr, and never carry a secret.

` + dsnHelp,
}

// runToken is the token command.
func runToken(args []string, stdout, stderr io.Writer) int {
	fs := tokenCmd.flagSet()
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	_, conn, code, ok := tokenCmd.start(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	defer conn.Close()
	ctx, cancel := commandContext(*timeout)
	defer cancel()
	tok, err := conn.Credential(ctx)
	if err != nil {
		diagnose(stderr, tokenCmd.name, "mint", err)
		return exitFailure
	}
	fmt.Fprintln(stdout, tok.Value)
	return exitOK
}
