package lakebase

import (
	"net"
	"net/url"
	"strings"
)

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
