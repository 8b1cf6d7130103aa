package lakebasetest

import (
	"testing"
	"time"
)

// A credential is workspace-scoped by default, as Lakebase's guide for
// external apps describes it: it logs in to any target as its identity.
// Bound to targets, it logs in only where it was minted for.
func TestCredentialScope(t *testing.T) {
	for _, strict := range []bool{false, true} {
		s := newCredentialStore(nil)
		if strict {
			s.bindToTargets()
		}
		c := s.issue(alice, db1Target, time.Hour, nil)
		if err := s.check(c.token, alice, db1Target); err != nil {
			t.Errorf("strict %t: own target: %v", strict, err)
		}
		err := s.check(c.token, alice, db2Target)
		if strict && err != errCredentialTarget || !strict && err != nil {
			t.Errorf("strict %t: another target: %v", strict, err)
		}
		if err := s.check(c.token, bob, db2Target); err != errCredentialIdentity {
			t.Errorf("strict %t: another identity: %v, want errCredentialIdentity", strict, err)
		}
	}
}
