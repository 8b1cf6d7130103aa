package credcache

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestCredentialNeverPrintsValue(t *testing.T) {
	const value = "hunter2-secret"
	for _, cred := range []Credential{
		{Value: value, Expiry: epoch},
		{Value: value},
	} {
		var out []string
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			out = append(out, fmt.Sprintf(verb, cred), fmt.Sprintf(verb, &cred))
		}
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("m", "cred", cred)
		slog.New(slog.NewTextHandler(&buf, nil)).Info("m", "cred", cred)
		out = append(out, buf.String())
		for _, s := range out {
			if strings.Contains(s, value) || strings.Contains(s, fmt.Sprintf("%x", value)) {
				t.Errorf("the value leaks: %s", s)
			}
		}
	}
	if got := (Credential{Value: value, Expiry: epoch}).String(); got != "Credential(redacted, expires 2030-01-02T03:04:05Z)" {
		t.Errorf("String = %q", got)
	}
}
