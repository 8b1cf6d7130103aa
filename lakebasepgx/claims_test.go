package lakebasepgx_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/lakebase-go/lakebase/lakebasetest"
)

// A pool whose DSN has claims logs in with a scoped credential: it reads
// the claimed table's counterpart and cannot write it.
func TestPoolClaims(t *testing.T) {
	t.Parallel()
	kit := shared.Kit(t)
	sp := newServicePrincipal(t, kit)
	ctx := testContext(t, time.Minute)
	schema := strings.ReplaceAll(uniqueName("sales"), "-", "_")
	admin, err := pgx.Connect(ctx, kit.Postgres.SuperuserDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	for _, stmt := range []string{
		"CREATE SCHEMA " + schema,
		"CREATE TABLE " + schema + ".orders (id int)",
		"INSERT INTO " + schema + ".orders VALUES (1), (2)",
	} {
		if _, err := admin.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	table := "main." + schema + ".orders"
	kit.Workspace.GrantTable(sp.ApplicationID, table)
	pool := newPool(t, m2mDSN(kit, sp, "instance="+lakebasetest.DefaultInstance, "claims=read_only:"+table))
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+schema+".orders").Scan(&n); err != nil || n != 2 {
		t.Fatalf("scoped read = %d, %v; want 2 rows", n, err)
	}
	var pe *pgconn.PgError
	if _, err := pool.Exec(ctx, "INSERT INTO "+schema+".orders VALUES (3)"); !errors.As(err, &pe) || pe.Code != "42501" {
		t.Errorf("scoped write = %v; want permission denied (42501)", err)
	}
}
