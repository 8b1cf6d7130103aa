package lakebase_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/lakebase-go/lakebase/lakebasetest"
	"github.com/lib/pq"
)

// Under OAuth, a login refused for a role that came from PGUSER and is not
// the identity's user name says so, naming both; the same role written in
// the DSN gets the server's error alone, since the user chose it there.
func TestPGUSERThatIsNotTheIdentitySaysSo(t *testing.T) {
	kit := sharedKit(t)
	sp := newServicePrincipal(t, kit)
	appEnvironment(t, kit, sp, endpointHostsOf(t, kit, addEndpoint(t, kit, lakebasetest.EndpointOptions{})).Host)
	t.Setenv("PGUSER", "reporting_app")

	for _, tt := range []struct {
		name, dsn string
		note      bool
	}{
		{"from PGUSER", "", true},
		{"from the DSN", "user=reporting_app", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			logs, _, err := pingFails(t, tt.dsn)
			wantConnectError(t, err, "login", `"reporting_app"`)
			var pe *pq.Error
			if !errors.As(err, &pe) || pe.Code != "28P01" {
				t.Errorf("errors.As(%v, *pq.Error) = %v; want the server's 28P01", err, pe)
			}
			said := strings.Contains(err.Error(), "comes from PGUSER") && strings.Contains(err.Error(), sp.ApplicationID)
			if said != tt.note {
				t.Errorf("the error says the role came from PGUSER: %t, want %t", said, tt.note)
			}
			kitSecrets(kit, sp.Secret).check(t, logs, err)
		})
	}
}
