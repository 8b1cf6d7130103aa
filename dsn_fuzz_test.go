package lakebase

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
)

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
