package lakebase

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase/internal/controlplane"
	"github.com/lakebase-go/lakebase/internal/pqsession"
)

// A Config whose fields are out of range, or whose Params would override a
// field that has a key of its own, fails NewConnector with ErrInvalidDSN
// naming the key, before anything is looked up or minted.
func TestConfigChecks(t *testing.T) {
	endpoint := "projects/p/branches/b/endpoints/e"
	cases := []struct {
		name string
		cfg  Config
		key  string
	}{
		{"port below range", Config{Password: secretPassword, Port: -1}, "port"},
		{"port above range", Config{Password: secretPassword, Port: 65536}, "port"},
		{"negative safety margin", Config{Password: secretPassword, SafetyMargin: -time.Second}, "SafetyMargin"},
		{"negative refresh window", Config{Password: secretPassword, RefreshWindow: -time.Second}, "RefreshWindow"},
		{"ttl below range", Config{Endpoint: endpoint, CredentialTTL: time.Minute}, "ttl"},
		{"ttl above range", Config{Endpoint: endpoint, CredentialTTL: 2 * time.Hour}, "ttl"},
		{"ttl not whole seconds", Config{Endpoint: endpoint, CredentialTTL: 600*time.Second + time.Millisecond}, "ttl"},
		{"hostaddr with an instance", Config{Instance: "i", Params: map[string]string{"hostaddr": "127.0.0.9"}}, "hostaddr"},
		{"hostaddr with an endpoint", Config{Endpoint: endpoint, Params: map[string]string{"hostaddr": "127.0.0.9"}}, "hostaddr"},
	}
	for _, key := range []string{"sslmode", "host", "port", "user", "password", "dbname", "instance", "auth"} {
		cases = append(cases, struct {
			name string
			cfg  Config
			key  string
		}{"params override " + key, Config{Password: secretPassword, Params: map[string]string{key: "x"}}, key})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clearEnv(t)
			_, err := NewConnector(&tc.cfg)
			if !errors.Is(err, ErrInvalidDSN) || !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("NewConnector = %v; want ErrInvalidDSN naming %s", err, tc.key)
			}
			assertNoSecret(t, err.Error())
		})
	}
}

// A mint request carries one claim per permission set, in upper case, in
// the order the sets first appear, each with its tables in the order given.
func TestRequestedClaims(t *testing.T) {
	for _, tc := range []struct {
		name   string
		claims []Claim
		want   []controlplane.Claim
	}{
		{"none", nil, nil},
		{"one set, any case", []Claim{{"read_only", "a.b.c"}, {"READ_ONLY", "a.b.d"}, {"Read_Only", "a.b.e"}},
			[]controlplane.Claim{{PermissionSet: "READ_ONLY", Tables: []string{"a.b.c", "a.b.d", "a.b.e"}}}},
		{"sets in first-seen order", []Claim{{"WRITE", "x.y.z"}, {"read_only", "a.b.c"}, {"write", "x.y.w"}},
			[]controlplane.Claim{{PermissionSet: "WRITE", Tables: []string{"x.y.z", "x.y.w"}}, {PermissionSet: "READ_ONLY", Tables: []string{"a.b.c"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := (&Config{Claims: tc.claims}).requestedClaims(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("requestedClaims() = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// A Config's retirement limits reach the transport as it says: zero is the
// default, a negative value none, and a DSN's 0 is NeverRetire.
func TestConfigRetirement(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		dsn  string // FormatDSN of cfg
		want pqsession.Retirement
	}{
		{"defaults", Config{}, "", pqsession.Retirement{MaxLifetime: 24 * time.Hour, MaxIdleTime: time.Hour}},
		{"set", Config{ConnMaxLifetime: 2 * time.Second, ConnMaxIdleTime: 90 * time.Minute},
			"conn_max_lifetime=2s conn_max_idle_time=1h30m0s", pqsession.Retirement{MaxLifetime: 2 * time.Second, MaxIdleTime: 90 * time.Minute}},
		{"off", Config{ConnMaxLifetime: NeverRetire, ConnMaxIdleTime: -5 * time.Minute},
			"conn_max_lifetime=0 conn_max_idle_time=0", pqsession.Retirement{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cfg.retirement(); got != tt.want {
				t.Errorf("retirement() = %+v; want %+v", got, tt.want)
			}
			if got := tt.cfg.FormatDSN(); got != tt.dsn {
				t.Errorf("FormatDSN() = %q; want %q", got, tt.dsn)
			}
			again, err := ParseDSN(tt.dsn)
			if err != nil {
				t.Fatal(err)
			}
			if got := again.retirement(); got != tt.want {
				t.Errorf("retirement() after ParseDSN(FormatDSN()) = %+v; want %+v", got, tt.want)
			}
		})
	}
}

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
