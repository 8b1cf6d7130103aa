package lakebase

import (
	"maps"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lakebase-go/lakebase/internal/controlplane"
)

// ParseDSN parses a DSN in either spelling: a URL (lakebase://, postgres:// or
// postgresql://) or libpq's key/value form. It reads no environment: that is
// NewConnector's job, so that a parsed Config says exactly what the DSN said.
// An empty DSN gives an empty Config, which is valid.
func ParseDSN(dsn string) (*Config, error) {
	pairs, err := splitDSN(dsn)
	if err != nil {
		return nil, err
	}
	cfg := &Config{}
	for _, p := range pairs {
		if err := cfg.set(p.key, p.value); err != nil {
			return nil, err
		}
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// FormatDSN writes the Config as a key/value DSN that ParseDSN reads back to
// an equal Config, secrets included. Fields that a DSN cannot hold are left
// out.
func (c *Config) FormatDSN() string { return c.format(false) }

// format writes every set key, redacting secrets when asked.
func (c *Config) format(redact bool) string {
	var b strings.Builder
	c.each(func(key, value string, secret bool) {
		if redact && secret {
			value = redacted
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(key)
		b.WriteByte('=')
		b.WriteString(quoteValue(value))
	})
	return b.String()
}

// each calls fn for every key that is set, lakebase keys first in table order,
// then Params sorted by key.
func (c *Config) each(fn func(key, value string, secret bool)) {
	for _, k := range dsnKeys {
		if v := k.get(c); v != "" {
			fn(k.name, v, k.secret)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(c.Params)) {
		fn(k, c.Params[k], secretParams[k])
	}
}

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
	claimsKey,
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

// claimsKey is the DSN key claims, read by ParseClaims and kept as written.
var claimsKey = dsnKey{
	name: "claims",
	get: func(c *Config) string {
		items := make([]string, len(c.Claims))
		for i, cl := range c.Claims {
			items[i] = cl.PermissionSet + ":" + cl.Table
		}
		return strings.Join(items, ",")
	},
	set: func(c *Config, v string) error {
		claims, err := ParseClaims(v)
		c.Claims = claims
		return err
	},
}

// ParseClaims reads the value of the DSN key claims: comma-separated
// PERMISSION_SET:TABLE items, such as
// read_only:main.sales.orders,read_only:main.sales.items. It refuses an
// item without a permission set; NewConnector checks the permission sets
// and table names. An empty value is no claims.
func ParseClaims(v string) ([]Claim, error) {
	if v == "" {
		return nil, nil
	}
	var claims []Claim
	for i, item := range strings.Split(v, ",") {
		set, table, ok := strings.Cut(strings.TrimSpace(item), ":")
		if !ok || set == "" {
			return nil, invalidKey("claims", "item %d has no permission set: want PERMISSION_SET:TABLE, e.g. read_only:main.sales.orders", i+1)
		}
		claims = append(claims, Claim{PermissionSet: set, Table: table})
	}
	return claims, nil
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

// parseConnLimit returns the parser of the retirement key named key: a Go
// duration, 0 for NeverRetire; what names the retirement in its errors.
func parseConnLimit(key, what string) func(string) (time.Duration, error) {
	return func(v string) (time.Duration, error) {
		if v == "" {
			return 0, nil
		}
		d, err := time.ParseDuration(v)
		switch {
		case err != nil:
			return 0, invalidKey(key, "want a duration such as 24h or 90m, or 0 to turn retirement by %s off", what)
		case d < 0:
			return 0, invalidKey(key, "must not be negative; 0 turns retirement by %s off", what)
		case d == 0:
			return NeverRetire, nil
		}
		return d, nil
	}
}

// formatConnLimit writes a retirement limit as parseConnLimit reads it.
func formatConnLimit(d time.Duration) string {
	if d < 0 {
		return "0"
	}
	return d.String()
}

// dsnPair is one key and its value as written in a DSN.
type dsnPair struct{ key, value string }

// splitDSN turns either spelling of a DSN into its key/value pairs, in order.
func splitDSN(dsn string) ([]dsnPair, error) {
	if _, ok := urlScheme(dsn); ok {
		return splitURL(dsn)
	}
	return splitKeyValue(dsn)
}

// urlScheme returns the scheme of a DSN in URL form, and false for the
// key/value form.
func urlScheme(dsn string) (string, bool) {
	for _, scheme := range []string{"lakebase://", "postgres://", "postgresql://"} {
		if len(dsn) >= len(scheme) && strings.EqualFold(dsn[:len(scheme)], scheme) {
			return scheme, true
		}
	}
	return "", false
}

// splitURL reads lakebase://[user[:password]@][host[:port]]/[dbname][?k=v&...].
// Its errors never quote the URL, which may hold a password.
func splitURL(dsn string) ([]dsnPair, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, &configError{reason: "malformed URL: percent-encode special characters in the user, password and host"}
	}
	if u.Opaque != "" || u.Fragment != "" {
		return nil, &configError{reason: "malformed URL: want lakebase://[user[:password]@][host[:port]]/[dbname][?key=value&...]"}
	}
	var pairs []dsnPair
	if u.User != nil {
		pairs = append(pairs, dsnPair{"user", u.User.Username()})
		if pw, ok := u.User.Password(); ok {
			pairs = append(pairs, dsnPair{"password", pw})
		}
	}
	if u.Host != "" {
		host, port := u.Hostname(), u.Port()
		if strings.Contains(u.Host, ",") {
			return nil, invalidKey("host", "name one host; lists of hosts are not supported")
		}
		if host != "" {
			pairs = append(pairs, dsnPair{"host", host})
		}
		if port != "" {
			pairs = append(pairs, dsnPair{"port", port})
		}
	}
	if db := strings.TrimPrefix(u.Path, "/"); db != "" {
		pairs = append(pairs, dsnPair{"dbname", db})
	}
	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, &configError{reason: "malformed URL query: percent-encode special characters in values"}
	}
	for key, values := range query {
		if len(values) > 1 {
			return nil, invalidKey(key, "given more than once")
		}
		pairs = append(pairs, dsnPair{key, values[0]})
	}
	return pairs, nil
}

// splitKeyValue reads libpq's key/value form: key=value pairs separated by
// white space, spaces allowed around '=', values optionally in single quotes,
// and a backslash escaping the next character.
func splitKeyValue(dsn string) ([]dsnPair, error) {
	var pairs []dsnPair
	s := dsn
	for {
		s = strings.TrimLeft(s, " \t\n\r\f\v")
		if s == "" {
			return pairs, nil
		}
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			return nil, &configError{reason: "want key=value pairs separated by spaces, or a lakebase:// URL"}
		}
		key := strings.TrimRight(s[:eq], " \t\n\r\f\v")
		if key == "" || strings.ContainsAny(key, " \t\n\r\f\v'\\") {
			return nil, &configError{reason: "want key=value pairs separated by spaces, or a lakebase:// URL"}
		}
		s = strings.TrimLeft(s[eq+1:], " \t\n\r\f\v")
		value, rest, err := readValue(s)
		if err != nil {
			return nil, invalidKey(key, "%s", err.Error())
		}
		for _, p := range pairs {
			if p.key == key {
				return nil, invalidKey(key, "given more than once")
			}
		}
		pairs = append(pairs, dsnPair{key, value})
		s = rest
	}
}

// valueError describes a malformed value without quoting it.
type valueError string

func (e valueError) Error() string { return string(e) }

// readValue reads one value at the start of s and returns it and the rest.
func readValue(s string) (value, rest string, err error) {
	var b strings.Builder
	if strings.HasPrefix(s, "'") {
		for i := 1; i < len(s); i++ {
			switch c := s[i]; c {
			case '\\':
				if i+1 == len(s) {
					return "", "", valueError("value ends in a lone backslash")
				}
				i++
				b.WriteByte(s[i])
			case '\'':
				return b.String(), s[i+1:], nil
			default:
				b.WriteByte(c)
			}
		}
		return "", "", valueError("quoted value has no closing quote")
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t', '\n', '\r', '\f', '\v':
			return b.String(), s[i:], nil
		case '\\':
			if i+1 == len(s) {
				return "", "", valueError("value ends in a lone backslash")
			}
			i++
			b.WriteByte(s[i])
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), "", nil
}

// quoteValue writes v so that readValue reads it back unchanged.
func quoteValue(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t\n\r\f\v'\\") {
		return v
	}
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(v) + "'"
}

// workspaceURL normalises a workspace given with or without a scheme.
func workspaceURL(v string) (*url.URL, error) {
	if !strings.Contains(v, "://") {
		v = "https://" + v
	}
	u, err := url.Parse(v)
	if err != nil {
		return nil, err
	}
	if u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, &configError{key: "workspace", reason: "want an http(s) URL"}
	}
	if _, _, err := net.SplitHostPort(u.Host); err != nil && strings.Contains(err.Error(), "too many colons") {
		return nil, &configError{key: "workspace", reason: "malformed host"}
	}
	return u, nil
}

// nearestKey returns the lakebase key that key is a likely misspelling of, or
// "" when it resembles none. A misspelt lakebase key must be an error: passed
// on as a runtime parameter it would only fail later, at the server, after a
// credential had been minted.
func nearestKey(key string) string {
	best, bestDist := "", 3
	for _, k := range dsnKeys {
		limit := 2
		if len(k.name) <= 4 {
			limit = 1
		}
		if d := editDistance(key, k.name); d <= limit && d < bestDist {
			best, bestDist = k.name, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and swaps of neighbours each cost one.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64 // far apart; keeps the work bounded for hostile input
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
