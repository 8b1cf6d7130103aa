package main

import (
	"strings"
	"testing"
)

func TestUsage(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{"no command", nil, exitUsage, "", "Usage:"},
		{"unknown command", []string{"pong"}, exitUsage, "", `unknown command "pong"`},
		{"help", []string{"--help"}, exitOK, "lakebase demo", ""},
		{"help word", []string{"help"}, exitOK, "lakebase psql", ""},
		{"demo help", []string{"demo", "--help"}, exitOK, "Usage: lakebase demo [flags]", ""},
		{"ping help", []string{"ping", "-h"}, exitOK, "Usage: lakebase ping [flags] [DSN]", ""},
		{"token help", []string{"token", "--help"}, exitOK, "LAKEBASE_DSN", ""},
		{"psql help", []string{"psql", "--help"}, exitOK, "-- psql arguments", ""},
		{"bad flag", []string{"ping", "--nope"}, exitUsage, "", "flag provided but not defined: -nope"},
		{"two DSNs", []string{"token", "a=b", "c=d"}, exitUsage, "", "at most one DSN"},
		{"psql args without --", []string{"psql", "a=b", "-c"}, exitUsage, "", "put psql's arguments after --"},
		{"demo argument", []string{"demo", "now"}, exitUsage, "", "demo takes no arguments"},
		{"demo workers", []string{"demo", "--workers", "0"}, exitUsage, "", "--workers"},
		{"demo lifetime", []string{"demo", "--lifetime", "10ms"}, exitUsage, "", "--lifetime"},
		{"demo duration", []string{"demo", "--duration", "0s"}, exitUsage, "", "--duration"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(tc.args...)
			if r.code != tc.code || !strings.Contains(r.stdout, tc.inStdout) || !strings.Contains(r.stderr, tc.inStderr) {
				t.Errorf("want exit %d, %q on stdout, %q on stderr; got\n%v", tc.code, tc.inStdout, tc.inStderr, r)
			}
		})
	}
}

func TestBadDSN(t *testing.T) {
	for _, cmd := range []string{"ping", "token", "psql"} {
		t.Run(cmd, func(t *testing.T) {
			r := runCmd(cmd, "instnace=x client_secret=hunter2")
			if r.code != exitFailure || !strings.Contains(r.stderr, `failed at step "dsn"`) || !strings.Contains(r.stderr, "instnace") {
				t.Errorf("want exit 1 naming step dsn and the key; got\n%v", r)
			}
			assertNoSecret(t, r, "hunter2")
		})
	}
}
