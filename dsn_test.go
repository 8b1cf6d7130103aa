package lakebase

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The secrets below must never appear in any output but FormatDSN.
const (
	secretPassword = "pw-Secret-0001"
	secretClient   = "cs-Secret-0002"
	secretToken    = "dapi-Secret-0003"
)

var parseCases = []struct {
	name string
	dsn  string
	want Config
}{
	{"empty", "", Config{}},
	{"instance key/value", "instance=my-db auth=oauth-m2m client_id=abc client_secret=" + secretClient,
		Config{Instance: "my-db", Auth: AuthOAuthM2M, ClientID: "abc", ClientSecret: secretClient}},
	{"endpoint", "endpoint=projects/p/branches/b/endpoints/e ttl=1h",
		Config{Endpoint: "projects/p/branches/b/endpoints/e", CredentialTTL: time.Hour}},
	{"ttl in seconds", "endpoint=projects/p/branches/b/endpoints/e ttl=600",
		Config{Endpoint: "projects/p/branches/b/endpoints/e", CredentialTTL: 600 * time.Second}},
	{"workspace and profile", "workspace=https://x.cloud.databricks.com profile=DEV auth=oauth-u2m",
		Config{Workspace: "https://x.cloud.databricks.com", Profile: "DEV", Auth: AuthOAuthU2M}},
	{"pat", "host=h.example token=" + secretToken + " auth=pat", Config{Host: "h.example", AccessToken: secretToken, Auth: AuthPAT}},
	{"read only", "instance=db read_only=true", Config{Instance: "db", ReadOnly: true}},
	{"read only false", "instance=db read_only=false", Config{Instance: "db"}},
	{"pooled with password", "endpoint=projects/p/branches/b/endpoints/e pooled=1 auth=password password=x",
		Config{Endpoint: "projects/p/branches/b/endpoints/e", Pooled: true, Auth: AuthPassword, Password: "x"}},
	{"pooled with oauth-m2m", "endpoint=projects/p/branches/b/endpoints/e pooled=true auth=oauth-m2m",
		Config{Endpoint: "projects/p/branches/b/endpoints/e", Pooled: true, Auth: AuthOAuthM2M}},
	{"pooled with pat", "endpoint=projects/p/branches/b/endpoints/e pooled=true auth=pat",
		Config{Endpoint: "projects/p/branches/b/endpoints/e", Pooled: true, Auth: AuthPAT}},
	{"all connection keys", "host=h port=6543 user=u@x.com password=" + secretPassword + " dbname=d sslmode=verify-full",
		Config{Host: "h", Port: 6543, User: "u@x.com", Password: secretPassword, DBName: "d", SSLMode: "verify-full"}},
	{"quoted value", `password='a b\'c\\d' user=\ me`, Config{Password: `a b'c\d`, User: " me"}},
	{"spaces around equals", "host = h  port =5432", Config{Host: "h", Port: 5432}},
	{"empty quoted value", "user='' host=h", Config{Host: "h"}},
	{"lib/pq keys pass through", "sslrootcert=/ca.pem connect_timeout=5 application_name='my app'",
		Config{Params: map[string]string{"sslrootcert": "/ca.pem", "connect_timeout": "5", "application_name": "my app"}}},
	{"runtime parameter", "search_path=app,public", Config{Params: map[string]string{"search_path": "app,public"}}},
	{"url", "lakebase://u%40x.com:" + secretPassword + "@h.example:6543/db?sslmode=disable&instance=my-db",
		Config{User: "u@x.com", Password: secretPassword, Host: "h.example", Port: 6543, DBName: "db", SSLMode: "disable", Instance: "my-db"}},
	{"postgres url", "postgres://h/db", Config{Host: "h", DBName: "db"}},
	{"postgresql url", "postgresql:///?endpoint=projects%2Fp%2Fbranches%2Fb%2Fendpoints%2Fe",
		Config{Endpoint: "projects/p/branches/b/endpoints/e"}},
	{"url ipv6", "lakebase://[::1]:5433/", Config{Host: "::1", Port: 5433}},
	{"url scheme any case", "LAKEBASE://h", Config{Host: "h"}},
	{"auth any case", "auth=OAuth-M2M", Config{Auth: AuthOAuthM2M}},
	{"retirement limits", "conn_max_lifetime=90m conn_max_idle_time=24h",
		Config{ConnMaxLifetime: 90 * time.Minute, ConnMaxIdleTime: 24 * time.Hour}},
	{"retirement off", "conn_max_lifetime=0 conn_max_idle_time=0s", Config{ConnMaxLifetime: NeverRetire, ConnMaxIdleTime: NeverRetire}},
	{"retirement in a url", "lakebase://h/db?conn_max_lifetime=2s&conn_max_idle_time=1.5s",
		Config{Host: "h", DBName: "db", ConnMaxLifetime: 2 * time.Second, ConnMaxIdleTime: 1500 * time.Millisecond}},
	{"claims", "instance=db claims=read_only:main.sales.orders,READ_ONLY:main.sales.items",
		Config{Instance: "db", Claims: []Claim{{"read_only", "main.sales.orders"}, {"READ_ONLY", "main.sales.items"}}}},
	{"claims in a url", "lakebase:///?endpoint=projects/p/branches/b/endpoints/e&claims=Read_Only:c.s.t",
		Config{Endpoint: "projects/p/branches/b/endpoints/e", Claims: []Claim{{"Read_Only", "c.s.t"}}}},
	{"no claims", "claims=''", Config{}},
}

func TestParseDSN(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseDSN(tc.dsn)
			if err != nil {
				t.Fatalf("ParseDSN: %v", err)
			}
			if !reflect.DeepEqual(*got, tc.want) {
				t.Fatalf("ParseDSN(%s)\n got %s\nwant %s", redactedInput(tc.dsn), got, &tc.want)
			}
			again, err := ParseDSN(got.FormatDSN())
			if err != nil {
				t.Fatalf("ParseDSN(FormatDSN): %v", err)
			}
			if !reflect.DeepEqual(again, got) {
				t.Fatalf("round trip changed the config:\n got %s\nwant %s", again, got)
			}
		})
	}
}

var parseErrorCases = []struct {
	name string
	dsn  string
	key  string // the key the error must name
}{
	{"near miss of instance", "instnace=db", "instnace"},
	{"near miss suggests", "endpont=projects/p/branches/b/endpoints/e", "endpoint"},
	{"near miss of password", "passwrod=" + secretPassword, "passwrod"},
	{"near miss of client_secret", "client_secert=" + secretClient, "client_secert"},
	{"instance and endpoint", "instance=a endpoint=projects/p/branches/b/endpoints/e", "instance"},
	{"pooled with instance", "instance=a pooled=true auth=oauth-m2m", "pooled"},
	{"pooled with instance and password", "instance=a pooled=true auth=password", "pooled"},
	{"pooled not a bool", "endpoint=projects/p/branches/b/endpoints/e pooled=maybe", "pooled"},
	{"secret without id", "client_secret=" + secretClient, "client_secret"},
	{"bad auth", "auth=kerberos", "auth"},
	{"bad bool", "read_only=maybe", "read_only"},
	{"bad port", "port=70000", "port"},
	{"port not a number", "port=abc", "port"},
	{"bad endpoint", "endpoint=projects/p", "endpoint"},
	{"bad instance", "instance=a/b", "instance"},
	{"bad ttl", "endpoint=projects/p/branches/b/endpoints/e ttl=10s", "ttl"},
	{"ttl not a duration", "ttl=soon", "ttl"},
	{"ttl with instance", "instance=a ttl=600s", "ttl"},
	{"bad sslmode", "sslmode=sometimes", "sslmode"},
	{"bad workspace", "workspace=ftp://x", "workspace"},
	{"host list", "host=a,b", "host"},
	{"host list in url", "lakebase://a,b/db", "host"},
	{"duplicate key", "user=a user=b", "user"},
	{"unterminated quote", "password='" + secretPassword, "password"},
	{"trailing backslash", `password=` + secretPassword + `\`, "password"},
	{"no equals", "instance", ""},
	{"bad key name", "1abc=x", "1abc"},
	{"malformed url keeps password out", "lakebase://u:" + secretPassword + "@h:bad/db", ""},
	{"duplicate url key", "lakebase://h/?user=a&user=b", "user"},
	{"negative lifetime", "conn_max_lifetime=-1h", "conn_max_lifetime"},
	{"lifetime not a duration", "conn_max_lifetime=soon", "conn_max_lifetime"},
	{"idle time without a unit", "conn_max_idle_time=10", "conn_max_idle_time"},
	{"negative idle time", "conn_max_idle_time=-5m", "conn_max_idle_time"},
	{"near miss of conn_max_lifetime", "conn_max_lifetim=1h", "conn_max_lifetime"},
	{"claim of an unknown permission set", "claims=write:main.sales.orders", "claims"},
	{"claim without a table", "claims=read_only:", "claims"},
	{"claim without a permission set", "claims=main.sales.orders", "claims"},
	{"claim with an empty permission set", "claims=:main.sales.orders", "claims"},
	{"claim of a table without its catalog", "claims=read_only:sales.orders", "claims"},
	{"claims with an empty item", "claims=read_only:a.b.c,,read_only:a.b.d", "claims"},
	{"claims with a native password", "auth=password claims=read_only:a.b.c", "claims"},
}

func TestParseDSNErrors(t *testing.T) {
	for _, tc := range parseErrorCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseDSN(tc.dsn)
			if err == nil {
				t.Fatalf("ParseDSN(%s) succeeded, want an error", redactedInput(tc.dsn))
			}
			if !errors.Is(err, ErrInvalidDSN) {
				t.Errorf("error %q does not wrap ErrInvalidDSN", err)
			}
			if !strings.HasPrefix(err.Error(), "lakebase: dsn: ") {
				t.Errorf("error %q does not start with the step", err)
			}
			if tc.key != "" && !strings.Contains(err.Error(), tc.key) {
				t.Errorf("error %q does not name %q", err, tc.key)
			}
			assertNoSecret(t, err.Error())
		})
	}
}

func TestConfigRedaction(t *testing.T) {
	cfg := &Config{
		Instance: "db", Auth: AuthOAuthM2M, ClientID: "id", ClientSecret: secretClient,
		AccessToken: secretToken, User: "u", Password: secretPassword,
		Params: map[string]string{"sslkey": "-----BEGIN PRIVATE KEY-----" + secretPassword},
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "cfg", cfg)
	for name, out := range map[string]string{
		"String": cfg.String(), "GoString": cfg.GoString(), "%v": fmt.Sprintf("%v", cfg),
		"%+v": fmt.Sprintf("%+v", cfg), "%#v": fmt.Sprintf("%#v", cfg), "%s": fmt.Sprintf("%s", cfg),
		"slog": logged.String(),
	} {
		t.Run(name, func(t *testing.T) {
			assertNoSecret(t, out)
			if !strings.Contains(out, redacted) {
				t.Errorf("%s output %q does not mark the redaction", name, out)
			}
			if !strings.Contains(out, "db") {
				t.Errorf("%s output %q lost the instance", name, out)
			}
		})
	}
	formatted := cfg.FormatDSN()
	for _, s := range []string{secretClient, secretToken, secretPassword} {
		if !strings.Contains(formatted, s) {
			t.Errorf("FormatDSN lost a secret needed for the round trip")
		}
	}
}

func TestTokenRedaction(t *testing.T) {
	tok := Token{Value: secretToken, Expiry: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("t", "token", tok)
	for _, out := range []string{tok.String(), fmt.Sprintf("%v %+v %#v %s", tok, tok, tok, tok), logged.String()} {
		assertNoSecret(t, out)
		if !strings.Contains(out, "2030") {
			t.Errorf("output %q lost the expiry", out)
		}
	}
}

// assertNoSecret fails when s holds any of the test secrets.
func assertNoSecret(t *testing.T, s string) {
	t.Helper()
	for _, secret := range []string{secretPassword, secretClient, secretToken} {
		if strings.Contains(s, secret) {
			t.Errorf("output leaks a secret: %q", strings.ReplaceAll(s, secret, "<LEAKED>"))
		}
	}
}

// redactedInput hides the test secrets in a DSN quoted by a failure message.
func redactedInput(dsn string) string {
	for _, secret := range []string{secretPassword, secretClient, secretToken} {
		dsn = strings.ReplaceAll(dsn, secret, redacted)
	}
	return dsn
}

// FuzzParseDSN checks, for any input, that ParseDSN does not panic, that a
// parsed Config survives FormatDSN and ParseDSN unchanged, and that a secret
// placed in the password, client_secret or token slot of an otherwise
// arbitrary DSN never shows in an error or in String.
func FuzzParseDSN(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(tc.dsn, secretPassword, uint8(0))
	}
	for _, tc := range parseErrorCases {
		f.Add(tc.dsn, secretClient, uint8(1))
	}
	f.Add("lakebase://h:99999/db", secretToken, uint8(2))
	f.Add("instance=db", "p w'\\", uint8(3))

	f.Fuzz(func(t *testing.T, dsn, secret string, slot uint8) {
		checkRoundTrip(t, dsn)

		if len(secret) < 8 || strings.Contains(dsn, secret) {
			return // too short to tell apart from the rest of the message
		}
		if _, isURL := urlScheme(dsn); isURL && slot%4 != 3 {
			return // appended key/value text would become part of the URL
		}
		build := func(secret string) string {
			switch slot % 4 {
			case 0:
				return dsn + " password=" + quoteValue(secret)
			case 1:
				return "client_secret=" + quoteValue(secret) + " " + dsn
			case 2:
				return dsn + " token=" + quoteValue(secret)
			}
			return "lakebase://u:" + url.PathEscape(secret) + "@" + dsn
		}
		cfg, err := ParseDSN(build(secret))
		if err != nil {
			// The error may hold the secret's text by chance (the DSN and
			// the message's own words): it leaks only if the error changes
			// with the secret's value.
			_, other := ParseDSN(build(decoy(secret)))
			if strings.Contains(err.Error(), secret) && (other == nil || other.Error() != err.Error()) {
				t.Fatalf("error leaks the secret: %q", err)
			}
			return
		}
		if cfg.Password != secret && cfg.ClientSecret != secret && cfg.AccessToken != secret {
			return // the DSN around it gave the text to another key
		}
		public := cfg.clone()
		public.Password, public.ClientSecret, public.AccessToken = "", "", ""
		if strings.Contains(public.String(), secret) {
			return // the text also stands in a key that is not secret
		}
		if s := cfg.String() + cfg.GoString(); strings.Contains(s, secret) {
			t.Fatalf("String leaks the secret: %q", s)
		}
	})
}

// checkRoundTrip parses dsn and, when it parses, checks that formatting and
// parsing again gives the same Config and the same text.
func checkRoundTrip(t *testing.T, dsn string) {
	cfg, err := ParseDSN(dsn)
	if err != nil {
		return
	}
	formatted := cfg.FormatDSN()
	again, err := ParseDSN(formatted)
	if err != nil {
		t.Fatalf("ParseDSN(FormatDSN(c)) failed: %v", err)
	}
	if !reflect.DeepEqual(cfg, again) {
		t.Fatalf("round trip changed the config:\n%#v\n%#v", cfg.FormatDSN(), again.FormatDSN())
	}
	if again.FormatDSN() != formatted {
		t.Fatalf("FormatDSN is not stable: %q then %q", formatted, again.FormatDSN())
	}
}

// decoy returns a different secret of the same shape: its letters and digits
// changed, its punctuation, which decides how a DSN quotes it, kept.
func decoy(secret string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == 'x':
			return 'y'
		case r == '0':
			return '1'
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
			return 'x'
		case r >= '1' && r <= '9':
			return '0'
		}
		return r
	}, secret)
}
