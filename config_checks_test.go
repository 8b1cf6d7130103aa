package lakebase

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase/internal/controlplane"
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
