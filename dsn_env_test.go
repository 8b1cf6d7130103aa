package lakebase

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// lakebaseEnv lists every variable the driver reads, so that each test starts
// from a clean environment.
var lakebaseEnv = []string{
	"LAKEBASE_INSTANCE", "LAKEBASE_ENDPOINT", "LAKEBASE_AUTH", "DATABRICKS_HOST",
	"DATABRICKS_CONFIG_PROFILE", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET",
	"DATABRICKS_TOKEN", "PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "PGSSLMODE",
}

// clearEnv unsets every variable the driver reads for the rest of the test.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, name := range lakebaseEnv {
		t.Setenv(name, "") // restores the old value at cleanup
		os.Unsetenv(name)
	}
}

func TestEnvironmentFallbacks(t *testing.T) {
	cases := []struct {
		name  string
		dsn   string
		env   map[string]string
		check func(*testing.T, *Config)
	}{
		{"defaults", "host=h auth=password", nil, func(t *testing.T, c *Config) {
			want(t, "dbname", c.DBName, DefaultDBName)
			want(t, "sslmode", c.SSLMode, DefaultSSLMode)
			want(t, "port", c.Port, DefaultPort)
		}},
		{"PG variables fill a bare host", "", map[string]string{
			"PGHOST": "envhost", "PGPORT": "6000", "PGUSER": "envuser", "PGPASSWORD": secretPassword,
			"PGDATABASE": "envdb", "PGSSLMODE": "disable", "LAKEBASE_AUTH": "password",
		}, func(t *testing.T, c *Config) {
			want(t, "host", c.Host, "envhost")
			want(t, "port", c.Port, 6000)
			want(t, "user", c.User, "envuser")
			want(t, "password", c.Password == secretPassword, true)
			want(t, "dbname", c.DBName, "envdb")
			want(t, "sslmode", c.SSLMode, "disable")
			want(t, "auth", c.Auth, AuthPassword)
		}},
		{"DSN wins over environment", "host=dsnhost user=dsnuser password=p dbname=dsndb sslmode=require",
			map[string]string{"PGHOST": "envhost", "PGUSER": "envuser", "PGDATABASE": "envdb", "PGSSLMODE": "disable"},
			func(t *testing.T, c *Config) {
				want(t, "host", c.Host, "dsnhost")
				want(t, "user", c.User, "dsnuser")
				want(t, "dbname", c.DBName, "dsndb")
				want(t, "sslmode", c.SSLMode, "require")
			}},
		{"PGHOST never replaces a looked-up host", "instance=db auth=password password=p",
			map[string]string{"PGHOST": "envhost", "PGPORT": "6000"}, func(t *testing.T, c *Config) {
				want(t, "host", c.Host, "")
				want(t, "port", c.Port, DefaultPort)
			}},
		{"Databricks variables", "auth=password password=p host=h", map[string]string{
			"DATABRICKS_HOST": "https://w.example", "DATABRICKS_CONFIG_PROFILE": "DEV",
			"DATABRICKS_CLIENT_ID": "cid", "DATABRICKS_CLIENT_SECRET": secretClient, "DATABRICKS_TOKEN": secretToken,
		}, func(t *testing.T, c *Config) {
			want(t, "workspace", c.Workspace, "https://w.example")
			want(t, "profile", c.Profile, "DEV")
			want(t, "client_id", c.ClientID, "cid")
			want(t, "client_secret", c.ClientSecret == secretClient, true)
			want(t, "token", c.AccessToken == secretToken, true)
		}},
		{"LAKEBASE_INSTANCE", "auth=password password=p", map[string]string{"LAKEBASE_INSTANCE": "envdb"},
			func(t *testing.T, c *Config) { want(t, "instance", c.Instance, "envdb") }},
		{"DSN endpoint keeps LAKEBASE_INSTANCE out", "endpoint=projects/p/branches/b/endpoints/e auth=password password=p",
			map[string]string{"LAKEBASE_INSTANCE": "envdb"}, func(t *testing.T, c *Config) {
				want(t, "instance", c.Instance, "")
			}},
		{"PGPASSWORD ignored by oauth modes", "host=h auth=pat token=t user=u", map[string]string{"PGPASSWORD": secretPassword},
			func(t *testing.T, c *Config) { want(t, "password", c.Password, "") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			cfg, err := ParseDSN(tc.dsn)
			if err != nil {
				t.Fatal(err)
			}
			c := cfg.clone()
			if err := c.applyEnvironment(getenvFromTest); err != nil {
				t.Fatal(err)
			}
			c.applyDefaults()
			tc.check(t, c)
		})
	}
}

func TestEnvironmentErrors(t *testing.T) {
	cases := []struct {
		name, variable, value, key string
	}{
		{"bad auth", "LAKEBASE_AUTH", "magic", "auth"},
		{"bad port", "PGPORT", "port", "port"},
		{"bad sslmode", "PGSSLMODE", "always", "sslmode"},
		{"bad endpoint", "LAKEBASE_ENDPOINT", "e", "endpoint"},
		{"bad workspace", "DATABRICKS_HOST", "ftp://w", "workspace"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clearEnv(t)
			t.Setenv(tc.variable, tc.value)
			_, err := NewConnector(&Config{Password: secretPassword})
			if err == nil {
				t.Fatal("NewConnector succeeded, want an error")
			}
			if !errors.Is(err, ErrInvalidDSN) || !strings.Contains(err.Error(), tc.key) || !strings.Contains(err.Error(), "$"+tc.variable) {
				t.Errorf("error %q should wrap ErrInvalidDSN and name %s and $%s", err, tc.key, tc.variable)
			}
			assertNoSecret(t, err.Error())
		})
	}
	t.Run("both targets", func(t *testing.T) {
		clearEnv(t)
		t.Setenv("LAKEBASE_INSTANCE", "a")
		t.Setenv("LAKEBASE_ENDPOINT", "projects/p/branches/b/endpoints/e")
		_, err := NewConnector(nil)
		if !errors.Is(err, ErrInvalidDSN) || !strings.Contains(err.Error(), "instance") {
			t.Errorf("got %v, want an error naming instance", err)
		}
	})
}

var getenvFromTest = os.Getenv

// want compares one field.
func want[T comparable](t *testing.T, field string, got, expected T) {
	t.Helper()
	if got != expected {
		t.Errorf("%s = %v, want %v", field, got, expected)
	}
}
