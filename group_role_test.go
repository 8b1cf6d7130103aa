package lakebase_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
	"github.com/lib/pq"
)

// A Lakebase OAuth role made for a Databricks group lets the group's members
// log in as that role with their own credentials: user= names the group,
// the service principal's credential is minted as always, and the session
// runs as the group's role. A service principal outside the group is
// refused.
func TestGroupRoleLogin(t *testing.T) {
	t.Parallel()
	kit := sharedKit(t)
	member := newServicePrincipal(t, kit)
	outsider := newServicePrincipal(t, kit)
	group := uniqueName("data-team")
	if err := kit.AddGroup(context.Background(), group, member.ApplicationID); err != nil {
		t.Fatal(err)
	}
	dsn := "instance=" + lakebasetest.DefaultInstance + " user=" + quote(group) + " "

	_, db := openConnector(t, dsn+m2mKeys(kit, member))
	if got := mustCurrentUser(t, db); got != group {
		t.Errorf("current_user = %q, want the group's role %q", got, group)
	}
	if n := kit.Workspace.MintsFor(member.ApplicationID); n != 1 {
		t.Errorf("%d credentials minted for the member, want 1", n)
	}

	_, db = openConnector(t, dsn+m2mKeys(kit, outsider))
	err := db.PingContext(contextFor(t, 30*time.Second))
	var pe *pq.Error
	if !errors.As(err, &pe) || pe.Code != "28P01" {
		t.Fatalf("outsider as the group: %v, want 28P01", err)
	}
	wantConnectError(t, err, "login", `"`+group+`"`)
	var ce *lakebase.ConnectError
	if errors.As(err, &ce) && ce.User != group {
		t.Errorf("ConnectError.User = %q, want %q", ce.User, group)
	}
}
