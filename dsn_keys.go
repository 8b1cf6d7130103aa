package lakebase

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/lakebase-go/lakebase/internal/controlplane"
)

// dsnKey is one key of the lakebase DSN: how to read it from a Config and how
// to store a parsed value in one.
type dsnKey struct {
	name   string
	secret bool
	get    func(*Config) string // "" when unset
	set    func(*Config, string) error
}

// dsnKeys lists the keys the driver interprets itself, in the order FormatDSN
// writes them.
var dsnKeys = []dsnKey{
	stringKey("instance", false, func(c *Config) *string { return &c.Instance }, checkInstance),
	stringKey("endpoint", false, func(c *Config) *string { return &c.Endpoint }, checkEndpoint),
	stringKey("workspace", false, func(c *Config) *string { return &c.Workspace }, checkWorkspace),
	stringKey("profile", false, func(c *Config) *string { return &c.Profile }, nil),
	parsedKey("auth", func(c *Config) *AuthMode { return &c.Auth }, parseAuthMode, func(m AuthMode) string { return string(m) }),
	stringKey("client_id", false, func(c *Config) *string { return &c.ClientID }, nil),
	stringKey("client_secret", true, func(c *Config) *string { return &c.ClientSecret }, nil),
	stringKey("token", true, func(c *Config) *string { return &c.AccessToken }, nil),
	boolKey("read_only", func(c *Config) *bool { return &c.ReadOnly }),
	boolKey("pooled", func(c *Config) *bool { return &c.Pooled }),
	parsedKey("ttl", func(c *Config) *time.Duration { return &c.CredentialTTL }, parseTTL, time.Duration.String),
	stringKey("host", false, func(c *Config) *string { return &c.Host }, checkHost),
	parsedKey("port", func(c *Config) *int { return &c.Port }, parsePort, strconv.Itoa),
	stringKey("user", false, func(c *Config) *string { return &c.User }, nil),
	stringKey("password", true, func(c *Config) *string { return &c.Password }, nil),
	stringKey("dbname", false, func(c *Config) *string { return &c.DBName }, nil),
	stringKey("sslmode", false, func(c *Config) *string { return &c.SSLMode }, checkSSLMode),
	parsedKey("conn_max_lifetime", func(c *Config) *time.Duration { return &c.ConnMaxLifetime }, parseConnLimit("conn_max_lifetime", "age"), formatConnLimit),
	parsedKey("conn_max_idle_time", func(c *Config) *time.Duration { return &c.ConnMaxIdleTime }, parseConnLimit("conn_max_idle_time", "idleness"), formatConnLimit),
}

// stringKey builds a dsnKey for a string field, with an optional check of
// the value.
func stringKey(name string, secret bool, field func(*Config) *string, check func(string) string) dsnKey {
	return dsnKey{
		name:   name,
		secret: secret,
		get:    func(c *Config) string { return *field(c) },
		set: func(c *Config, v string) error {
			if check != nil {
				if reason := check(v); reason != "" {
					return invalidKey(name, "%s", reason)
				}
			}
			*field(c) = v
			return nil
		},
	}
}

// boolKey builds a dsnKey for a boolean field; false is written as unset.
func boolKey(name string, field func(*Config) *bool) dsnKey {
	return dsnKey{
		name: name,
		get: func(c *Config) string {
			if *field(c) {
				return "true"
			}
			return ""
		},
		set: func(c *Config, v string) error {
			b, ok := parseBool(v)
			if !ok {
				return invalidKey(name, "want true or false")
			}
			*field(c) = b
			return nil
		},
	}
}

// parsedKey builds a dsnKey for a field that parse reads (its errors name
// the key) and format writes; the zero value is written as unset.
func parsedKey[T comparable](name string, field func(*Config) *T, parse func(string) (T, error), format func(T) string) dsnKey {
	return dsnKey{
		name: name,
		get: func(c *Config) string {
			var zero T
			if v := *field(c); v != zero {
				return format(v)
			}
			return ""
		},
		set: func(c *Config, v string) error {
			parsed, err := parse(v)
			*field(c) = parsed
			return err
		},
	}
}

// pqKeys are the connection keys lib/pq understands itself; the driver passes
// them through. Any other key not in dsnKeys is a runtime parameter for the
// server, unless it looks like a misspelt lakebase key.
var pqKeys = map[string]bool{
	"hostaddr": true, "passfile": true, "options": true, "application_name": true,
	"fallback_application_name": true, "sslnegotiation": true, "sslcert": true, "sslkey": true,
	"sslrootcert": true, "sslsni": true, "ssl_min_protocol_version": true,
	"ssl_max_protocol_version": true, "sslinline": true, "krbsrvname": true, "krbspn": true,
	"connect_timeout": true, "binary_parameters": true, "disable_prepared_binary_result": true,
	"client_encoding": true, "datestyle": true, "tz": true, "geqo": true,
	"target_session_attrs": true, "load_balance_hosts": true, "min_protocol_version": true,
	"max_protocol_version": true, "service": true,
}

// secretParams are pass-through keys whose values are secret: with sslinline
// an sslkey is the private key itself.
var secretParams = map[string]bool{"sslkey": true}

// set stores one key's value, checking it.
func (c *Config) set(key, value string) error {
	for _, k := range dsnKeys {
		if k.name == key {
			return k.set(c, value)
		}
	}
	if !pqKeys[key] {
		if near := nearestKey(key); near != "" {
			return invalidKey(key, "unknown key; did you mean %q?", near)
		}
		if !validParamName(key) {
			return invalidKey(key, "not a valid key name")
		}
	}
	if c.Params == nil {
		c.Params = make(map[string]string)
	}
	c.Params[key] = value
	return nil
}

// validate checks the rules that bind keys together. It is run on a parsed
// DSN and again after the environment has filled the gaps.
func (c *Config) validate() error {
	switch {
	case c.Instance != "" && c.Endpoint != "":
		return invalidKey("instance", "cannot be combined with endpoint: name one target")
	case c.Pooled && c.Instance != "":
		return invalidKey("pooled", "pooled hosts belong to Autoscaling endpoints; an instance has none")
	case c.ClientSecret != "" && c.ClientID == "":
		return invalidKey("client_secret", "given without client_id")
	case c.CredentialTTL != 0 && c.Instance != "":
		return invalidKey("ttl", "applies to Autoscaling endpoints only, not to an instance")
	case c.CredentialTTL != 0 && !validTTL(c.CredentialTTL):
		return invalidKey("ttl", "want a whole number of seconds from 300s to 3600s")
	case c.Port < 0 || c.Port > 65535:
		return invalidKey("port", "want a number from 1 to 65535")
	case c.SafetyMargin < 0:
		return invalidKey("SafetyMargin", "must not be negative")
	case c.RefreshWindow < 0:
		return invalidKey("RefreshWindow", "must not be negative")
	case (c.Instance != "" || c.Endpoint != "") && c.Params["hostaddr"] != "":
		return invalidKey("hostaddr", "cannot redirect the host that %s names; set host instead", targetKey(c))
	}
	for key := range c.Params {
		if isDSNKey(key) {
			return invalidKey(key, "has a Config field of its own; set it there, not in Params")
		}
	}
	return nil
}

// targetKey names the key that names c's looked-up target.
func targetKey(c *Config) string {
	if c.Instance != "" {
		return "instance"
	}
	return "endpoint"
}

// isDSNKey reports whether key is one the driver interprets itself.
func isDSNKey(key string) bool {
	for _, k := range dsnKeys {
		if k.name == key {
			return true
		}
	}
	return false
}

func parseAuthMode(v string) (AuthMode, error) {
	m := AuthMode(strings.ToLower(v))
	switch m {
	case AuthAutomatic, AuthOAuthM2M, AuthOAuthU2M, AuthPAT, AuthPassword:
		return m, nil
	}
	if controlplane.IsSDKAuthType(controlplane.AuthMode(m)) {
		return m, nil
	}
	return "", invalidKey("auth", "want oauth-m2m, oauth-u2m, pat, password, or a Databricks SDK auth type (%s)", sdkAuthTypeList())
}

func parseBool(v string) (value, ok bool) {
	switch strings.ToLower(v) {
	case "true", "t", "1", "yes", "on":
		return true, true
	case "false", "f", "0", "no", "off", "":
		return false, true
	}
	return false, false
}

func parsePort(v string) (int, error) {
	if v == "" {
		return 0, nil
	}
	p, err := strconv.Atoi(v)
	if err != nil || p < 1 || p > 65535 {
		return 0, invalidKey("port", "want a number from 1 to 65535")
	}
	return p, nil
}

// parseTTL accepts a Go duration ("1h", "3600s") or a number of seconds.
func parseTTL(v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		secs, aerr := strconv.Atoi(v)
		if aerr != nil {
			return 0, invalidKey("ttl", "want a duration such as 3600s or 1h")
		}
		d = time.Duration(secs) * time.Second
	}
	if !validTTL(d) {
		return 0, invalidKey("ttl", "want whole seconds from 300s to 3600s")
	}
	return d, nil
}

var endpointPattern = regexp.MustCompile(`^projects/[^/\s]+/branches/[^/\s]+/endpoints/[^/\s]+$`)

func checkEndpoint(v string) string {
	if v != "" && !endpointPattern.MatchString(v) {
		return "want projects/<project>/branches/<branch>/endpoints/<endpoint>"
	}
	return ""
}

func checkInstance(v string) string {
	if len(v) > 255 || strings.ContainsFunc(v, func(r rune) bool { return r == '/' || r <= ' ' || r == 0x7f }) {
		return "want an instance name (letters, digits, hyphens)"
	}
	return ""
}

func checkHost(v string) string {
	if strings.Contains(v, ",") {
		return "name one host; lists of hosts are not supported"
	}
	if strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return "contains a space or control character"
	}
	return ""
}

func checkWorkspace(v string) string {
	if v == "" {
		return ""
	}
	if _, err := workspaceURL(v); err != nil {
		return "want a workspace URL such as https://my-workspace.cloud.databricks.com"
	}
	return ""
}

func checkSSLMode(v string) string {
	switch v {
	case "", "disable", "allow", "prefer", "require", "verify-ca", "verify-full":
		return ""
	}
	if strings.HasPrefix(v, "pqgo-") {
		return ""
	}
	return "want disable, allow, prefer, require, verify-ca or verify-full"
}

// validParamName reports whether name can be a runtime parameter: letters,
// digits, underscores and dots, starting with a letter.
func validParamName(name string) bool {
	if name == "" || len(name) > 63 {
		return false
	}
	for i, r := range name {
		letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !(letter || r == '_' || (i > 0 && (r >= '0' && r <= '9' || r == '.'))) {
			return false
		}
	}
	return true
}

// validTTL reports whether Lakebase accepts d as a credential lifetime.
func validTTL(d time.Duration) bool {
	return d >= 300*time.Second && d <= 3600*time.Second && d%time.Second == 0
}

// sdkAuthTypeList names the SDK's auth types for an error message.
func sdkAuthTypeList() string {
	names := make([]string, len(controlplane.SDKAuthTypes))
	for i, m := range controlplane.SDKAuthTypes {
		names[i] = string(m)
	}
	return strings.Join(names, ", ")
}
