package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/lakebase-go/lakebase"
	"github.com/lib/pq"
)

// Steps that are not a ConnectError's: the DSN itself, and the test query
// after login.
const (
	stepDSN   = "dsn"
	stepQuery = "query"
)

// diagnose writes why cmd failed at step: the step, the target and user
// when the error names them, the error and a hint. The driver's errors
// carry no secret, so neither does this.
func diagnose(w io.Writer, cmd, step string, err error) {
	step = stepOf(err, step)
	fmt.Fprintf(w, "lakebase %s: failed at step %q\n", cmd, step)
	var ce *lakebase.ConnectError
	if errors.As(err, &ce) {
		if ce.Target != "" {
			fmt.Fprintf(w, "  target: %s\n", ce.Target)
		}
		if ce.User != "" {
			fmt.Fprintf(w, "  user:   %s\n", ce.User)
		}
	}
	// Some causes (the SDK's) end in a newline or span lines.
	msg := strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "\n          ")
	fmt.Fprintf(w, "  error:  %s\n", msg)
	fmt.Fprintf(w, "  hint:   %s\n", hint(step, err))
}

// stepOf returns the step that err names: a ConnectError's, stepDSN for a
// configuration error, else fallback.
func stepOf(err error, fallback string) string {
	var ce *lakebase.ConnectError
	switch {
	case errors.As(err, &ce):
		return ce.Step
	case errors.Is(err, lakebase.ErrInvalidDSN):
		return stepDSN
	}
	return fallback
}

// hint says what to check after err at step: first by the kind of error,
// which is the same at any step, then by the step.
func hint(step string, err error) string {
	for _, k := range kindHints {
		if errors.Is(err, k.kind) {
			return k.hint
		}
	}
	var h interface{ Hint() string } // the driver's own advice, such as how to create a missing role
	if errors.As(err, &h) {
		return h.Hint()
	}
	var pe *pq.Error
	if step == "login" && errors.As(err, &pe) {
		return loginHint(pe)
	}
	if h, ok := stepHints[step]; ok {
		return h
	}
	return "see the error"
}

// kindHints are the hints for the kinds of error, in the order they are
// tried.
var kindHints = []struct {
	kind error
	hint string
}{
	{context.DeadlineExceeded, "the step did not finish in time: the workspace or the server may be unreachable or slow, or the target may still be starting; retry, or allow more with --timeout"},
	{context.Canceled, "interrupted"},
	{lakebase.ErrUnauthenticated, "the workspace refused the login: check client_id and client_secret (oauth-m2m), the token (pat), the profile, or run 'databricks auth login' (oauth-u2m)"},
	{lakebase.ErrPermissionDenied, "the identity may not use this instance or endpoint: check its permission on it in the workspace"},
	{lakebase.ErrNotFound, "the workspace knows no such target: check the instance or endpoint name and the workspace URL (workspace=, DATABRICKS_HOST)"},
	{lakebase.ErrUnreachable, "the workspace cannot be reached: check its URL (workspace=, DATABRICKS_HOST, the profile's host), a proxy or VPN, and its TLS certificate's issuer"},
	{lakebase.ErrStopped, "the instance is stopped or being deleted, or the endpoint is disabled: start or enable it in the workspace"},
	{lakebase.ErrNotReady, "the target is still starting or waking: retry, or allow more time with --timeout"},
}

// stepHints are the hints for a step when the error says nothing more.
var stepHints = map[string]string{
	stepDSN:    "fix the DSN key named in the error (the README lists every key)",
	"resolve":  "check the instance or endpoint name and the workspace URL (workspace=, DATABRICKS_HOST), or host= and port= for a plain server",
	"identity": "the workspace could not say who is logging in: check the credentials, or name the Postgres role with user=",
	"mint":     "the workspace would not mint a credential: check the identity's permission on the instance or endpoint",
	"dial":     "the server could not be reached: check host and port, the network (VPN, firewall) and TLS (sslmode, sslrootcert)",
	"login":    "the server refused the login: see the error",
	stepQuery:  "logged in, but the test query failed: see the error",
}

// loginHint explains a login refused by the server, by its SQLSTATE.
func loginHint(pe *pq.Error) string {
	switch pe.Code {
	case "28P01":
		return "credential refused (28P01): with OAuth, the role must be the identity's own or that of a group the identity belongs to, and the credential valid for this instance or endpoint; with a native role, check the password"
	case "28000":
		return "role refused (28000): check that a Postgres role exists for this identity and may log in"
	case "3D000":
		return "no such database (3D000): check dbname= (the default is databricks_postgres)"
	case "57P03":
		return "the server is starting (57P03): retry in a moment"
	case "53300":
		return "too many connections (53300): close idle clients or lower pool sizes"
	}
	return fmt.Sprintf("the server refused the login (%s): see the error", pe.Code)
}
