package lakebasetest_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"strings"
	"time"

	_ "github.com/lib/pq"

	"github.com/lakebase-go/lakebase/lakebasetest"
)

// Like the kit's, these examples need PostgreSQL: go test compiles them
// without running them, and the comment at the end of each shows what it
// prints.

// pinnedConn opens the kit's default M2M DSN and holds one session open.
func pinnedConn(kit *lakebasetest.Kit) (*sql.DB, *sql.Conn) {
	db := openDB("lakebase", kit.DSNs().M2M)
	conn, err := db.Conn(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	return db, conn
}

func ExampleGateway() {
	kit := startKit(lakebasetest.Options{})
	defer kit.Close()
	gw := kit.InstanceGateway()
	fmt.Println(gw.Host(), gw.Port() > 0, gw.Addr() == fmt.Sprintf("%s:%d", gw.Host(), gw.Port()))
	// 127.0.0.1 true true
}

func ExampleGateway_Host() {
	kit := startKit(lakebasetest.Options{})
	defer kit.Close()
	fmt.Println(kit.InstanceGateway().Host())
	// 127.0.0.1
}

// A DSN that names the gateway's host and port, as a client that was given
// them does.
func ExampleGateway_Port() {
	kit := startKit(lakebasetest.Options{})
	defer kit.Close()
	gw := kit.InstanceGateway()
	dsn := fmt.Sprintf("host=%s port=%d user=%s password=%s auth=password sslmode=verify-full sslrootcert=%s",
		gw.Host(), gw.Port(), kit.NativeRole, kit.NativePassword, kit.Postgres.CAFile())
	fmt.Println(currentUser(dsn))
	// native_app <nil>
}

func ExampleGateway_Addr() {
	kit := startKit(lakebasetest.Options{})
	defer kit.Close()
	gw := kit.InstanceGateway()
	fmt.Println(strings.HasPrefix(gw.Addr(), "127.0.0.1:"), kit.Gateway(gw.Addr()) == gw)
	// true true
}

// A restart drops the sessions; the next connection logs in again.
func ExampleGateway_Restart() {
	kit := startKit(lakebasetest.Options{})
	defer kit.Close()
	db, conn := pinnedConn(kit)
	defer db.Close()
	kit.InstanceGateway().Restart()
	fmt.Println(conn.PingContext(context.Background()) != nil, db.Ping())
	// true <nil>
}

func ExampleGateway_SetOutage() {
	kit := startKit(lakebasetest.Options{})
	defer kit.Close()
	db := openDB("lakebase", kit.DSNs().M2M)
	defer db.Close()
	gw := kit.InstanceGateway()
	if err := gw.SetOutage(true); err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	down := db.PingContext(ctx)
	if err := gw.SetOutage(false); err != nil {
		log.Fatal(err)
	}
	fmt.Println(down != nil, db.Ping())
	// true <nil>
}

// An endpoint waking from scale to zero refuses the first connection with
// 57P03; the driver waits and tries again.
func ExampleGateway_Waking() {
	kit := startKit(lakebasetest.Options{})
	defer kit.Close()
	gw := kit.EndpointGateway()
	gw.Waking(1, 0)
	_, err := currentUser(kit.DSNs().Endpoint)
	fmt.Println(gw.Stats().Refused, err)
	// 1 <nil>
}

func ExampleGateway_Stats() {
	kit := startKit(lakebasetest.Options{})
	defer kit.Close()
	db, conn := pinnedConn(kit)
	defer db.Close()
	defer conn.Close()
	stats := kit.InstanceGateway().Stats()
	fmt.Println(stats.Accepted, stats.Rejected, stats.Live)
	// 1 0 1
}

func ExampleGatewayStats() {
	kit := startKit(lakebasetest.Options{})
	defer kit.Close()
	dsn := strings.Replace(kit.DSNs().Password, "password=", "password=wrong", 1)
	_, err := currentUser(dsn)
	fmt.Println(kit.InstanceGateway().Stats().Rejected, err != nil)
	// 1 true
}

func ExampleGateway_Close() {
	kit := startKit(lakebasetest.Options{})
	defer kit.Close()
	gw, err := kit.StartFailoverGateway(lakebasetest.DefaultInstance)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(gw.Close())
	// <nil>
}

// The kit's certificate authority verifies the server and every gateway: a
// DSN straight to the kit's server, past the gateways, as a native role.
func ExampleKit_postgres() {
	kit := startKit(lakebasetest.Options{})
	defer kit.Close()
	dsn := fmt.Sprintf("host=%s port=%d user=%s password=%s auth=password sslmode=verify-full sslrootcert=%s",
		kit.Postgres.Host(), kit.Postgres.Port(), kit.NativeRole, kit.NativePassword, kit.Postgres.CAFile())
	fmt.Println(currentUser(dsn))
	// native_app <nil>
}

// A restart of the kit's server ends every session with FATAL 57P01; new
// ones are served again once Restart returns.
func ExampleKit_restart() {
	kit := startKit(lakebasetest.Options{})
	defer kit.Close()
	db, conn := pinnedConn(kit)
	defer db.Close()
	if err := kit.Postgres.Restart(context.Background()); err != nil {
		log.Fatal(err)
	}
	fmt.Println(conn.PingContext(context.Background()) != nil, db.Ping())
	// true <nil>
}
