package main

import (
	"fmt"
	"io"
	"time"

	"github.com/lakebase-go/lakebase"
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
	claims := fs.String("claims", "", "scope the credential to Unity Catalog tables: PERMISSION_SET:TABLE,... (as the DSN key claims)")
	_, conn, code, ok := tokenCmd.start(fs, args, stdout, stderr, func(c *lakebase.Config) error {
		if *claims == "" {
			return nil
		}
		var err error
		c.Claims, err = lakebase.ParseClaims(*claims)
		return err
	})
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
