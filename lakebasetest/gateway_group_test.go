package lakebasetest

import (
	"context"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase/internal/testenv"
)

// A member of a group logs in as the group's role with a credential minted
// for themselves; a non-member's credential, or a member's for another
// target, is refused as any wrong password is.
func TestGatewayGroupRole(t *testing.T) {
	w := newGatewayWorld(t)
	const analysts = "analysts"
	if err := w.pg.CreateRole(context.Background(), analysts, ""); err != nil {
		t.Fatal(err)
	}
	w.store.addMembers(analysts, alice, robot)
	g := w.gateway(t, db1Target, false)

	for _, member := range []string{alice, robot} {
		db := testenv.OpenPQ(t, w.dsn(g, analysts, w.mint(member, db1Target, time.Hour)))
		if got := queryString(t, db, "SELECT current_user"); got != analysts {
			t.Errorf("%s as %s: current_user = %q", member, analysts, got)
		}
	}
	wantWrongPassword(t, testenv.OpenPQ(t, w.dsn(g, analysts, w.mint(bob, db1Target, time.Hour))).Ping(), analysts)
	wantWrongPassword(t, testenv.OpenPQ(t, w.dsn(g, analysts, w.mint(alice, instanceTarget("db2"), time.Hour))).Ping(), analysts)
	// Membership does not go the other way: the group's members keep their own roles.
	wantWrongPassword(t, testenv.OpenPQ(t, w.dsn(g, alice, w.mint(robot, db1Target, time.Hour))).Ping(), alice)
}
