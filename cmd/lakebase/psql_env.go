package main

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/lakebase-go/lakebase"
)

// psqlParams maps the lib/pq keys of a DSN that libpq also reads from the
// environment to their variables.
var psqlParams = map[string]string{
	"sslrootcert":      "PGSSLROOTCERT",
	"sslcert":          "PGSSLCERT",
	"sslkey":           "PGSSLKEY",
	"connect_timeout":  "PGCONNECT_TIMEOUT",
	"application_name": "PGAPPNAME",
}

// psqlOverriders are variables that would send psql elsewhere than the
// variables psqlEnv sets: they are removed.
var psqlOverriders = []string{"PGHOSTADDR", "PGSERVICE"}

// psqlEnv returns environ with the variables that log psql in as the
// connector does: its host, role, database and a fresh credential, and the
// TLS settings of the DSN (else of the environment, else the driver's
// defaults). On failure it returns the step that failed.
func psqlEnv(ctx context.Context, cfg *lakebase.Config, c *lakebase.Connector, environ []string) (env []string, step string, err error) {
	host, port, err := c.Host(ctx)
	if err != nil {
		return nil, "resolve", err
	}
	user, err := c.User(ctx)
	if err != nil {
		return nil, "identity", err
	}
	tok, err := c.Credential(ctx)
	if err != nil {
		return nil, "mint", err
	}
	set := map[string]string{
		"PGHOST":     host,
		"PGPORT":     strconv.Itoa(port),
		"PGUSER":     user,
		"PGPASSWORD": tok.Value,
		"PGDATABASE": c.DBName(),
		"PGSSLMODE":  firstSet(cfg.SSLMode, os.Getenv("PGSSLMODE"), lakebase.DefaultSSLMode),
	}
	for key, name := range psqlParams {
		if v, ok := cfg.Params[key]; ok {
			set[name] = v
		}
	}
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if _, replaced := set[name]; !replaced && !slices.Contains(psqlOverriders, name) {
			env = append(env, kv)
		}
	}
	for name, v := range set {
		env = append(env, name+"="+v)
	}
	return env, "", nil
}

// firstSet returns the first value that is not empty.
func firstSet(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
