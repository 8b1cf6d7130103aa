package lakebase_test

import (
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
)

// Lakebase describes a credential as workspace-scoped. This measures what
// sharing one credential of an identity between two connectors to two
// instances would save, against one credential per connector (the driver's
// way), over the same run of connections through two rotations: the
// shared pair mints half as often, and neither way makes a connection wait
// for a credential after the first. The README gives the decision.
func TestWorkspaceScopedCredentialSharing(t *testing.T) {
	e := newFaultEnv(t)
	lifetime := scaled(3 * time.Second)
	e.kit.Workspace.SetCredentialLifetime(lifetime)
	second := addInstance(t, e.kit, lakebasetest.InstanceOptions{})

	measure := func(share bool) (mints int, waits uint64) {
		sp := newServicePrincipal(t, e.kit)
		e.keepSecret(sp.Secret)
		a, connA := e.open(e.dsnFor(sp))
		b, connB := e.open(e.dsnWith("instance="+second, m2mAuth(sp)), func(c *lakebase.Config) {
			if share {
				c.TokenSource = lakebase.TokenSourceFunc(connA.Credential)
			}
		})
		a.SetMaxIdleConns(0)
		b.SetMaxIdleConns(0)
		deadline := time.Now().Add(2 * lifetime)
		var wg sync.WaitGroup
		for _, db := range []*sql.DB{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(deadline) {
					if err := e.ping(db, 10*time.Second); err != nil {
						t.Errorf("share %t: %v", share, err)
						return
					}
					time.Sleep(50 * time.Millisecond)
				}
			}()
		}
		wg.Wait()
		return e.kit.Workspace.MintsFor(sp.ApplicationID), connA.Stats().CredentialWaits + connB.Stats().CredentialWaits
	}
	own, ownWaits := measure(false)
	shared, sharedWaits := measure(true)
	t.Logf("two connectors, two instances, %s of connections (credential lifetime %s): one credential each: %d mints, %d waits; one shared: %d mints, %d waits",
		2*lifetime, lifetime, own, ownWaits, shared, sharedWaits)
	if shared >= own {
		t.Errorf("sharing minted %d, one each minted %d: a workspace-scoped credential should halve the mints", shared, own)
	}
	e.waitNoLeaksAfterClose()
}
