package lakebasetest_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/lib/pq"

	"github.com/lakebase-go/lakebase/lakebasetest"
)

// Like the kit's, these examples need PostgreSQL: go test compiles them
// without running them, and the comment at the end of each shows what it
// prints.

// startServer starts a throwaway server for an example, or ends the
// program.
func startServer(opts lakebasetest.PostgresOptions) *lakebasetest.Postgres {
	srv, err := lakebasetest.StartPostgres(context.Background(), opts)
	if err != nil {
		log.Fatal(err) // wraps lakebasetest.ErrPostgresNotFound where there is no PostgreSQL
	}
	return srv
}

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

// A throwaway server on its own, for code that needs PostgreSQL but not
// Lakebase.
func ExampleStartPostgres() {
	srv := startServer(lakebasetest.PostgresOptions{})
	defer srv.Stop()
	db := openDB("postgres", srv.SuperuserDSN())
	defer db.Close()
	var name string
	fmt.Println(db.QueryRow("SELECT current_database()").Scan(&name), name)
	// <nil> databricks_postgres
}

// A test's own server, stopped when the test ends.
func ExampleNewPostgres() {
	testQueries := func(t *testing.T) {
		srv := lakebasetest.NewPostgres(t)
		db, err := sql.Open("postgres", srv.SuperuserDSN())
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
	}
	_ = testQueries
}

// An existing server instead of a throwaway one, and a larger
// max_connections for a throwaway one.
func ExamplePostgresOptions() {
	opts := lakebasetest.PostgresOptions{MaxConnections: 500}
	if url := os.Getenv("LAKEBASE_TEST_POSTGRES_URL"); url != "" {
		opts = lakebasetest.PostgresOptions{URL: url}
	}
	kit := startKit(lakebasetest.Options{Postgres: opts})
	defer kit.Close()
	fmt.Println(kit.Postgres.Port() > 0)
	// true
}

// Where CI cannot reach Maven Central: a mirror, and a progress line while
// the download runs.
func ExampleDownloadOptions() {
	srv := startServer(lakebasetest.PostgresOptions{
		Download: lakebasetest.DownloadOptions{
			Mirror:   "https://artifactory.example.com/maven2",
			Progress: os.Stderr,
		},
	})
	defer srv.Stop()
	fmt.Println(srv.Port() > 0)
	// true
}

// Without downloads, a machine without PostgreSQL gets ErrPostgresNotFound,
// which New and Require turn into a skip.
func ExampleDownloadMode() {
	srv := startServer(lakebasetest.PostgresOptions{
		Download: lakebasetest.DownloadOptions{Mode: lakebasetest.DownloadNever},
	})
	defer srv.Stop()
	fmt.Println(srv.Host())
	// 127.0.0.1
}

func ExamplePostgres() {
	srv := startServer(lakebasetest.PostgresOptions{})
	defer srv.Stop()
	fmt.Println(srv.Host(), srv.Port() > 0)
	// 127.0.0.1 true
}

func ExamplePostgres_Host() {
	kit := startKit(lakebasetest.Options{})
	defer kit.Close()
	fmt.Println(kit.Postgres.Host())
	// 127.0.0.1
}

// The kit's certificate authority verifies the server and every gateway: a
// DSN straight to the server, past the gateways, as a native role.
func ExamplePostgres_Port() {
	kit := startKit(lakebasetest.Options{})
	defer kit.Close()
	dsn := fmt.Sprintf("host=%s port=%d user=%s password=%s auth=password sslmode=verify-full sslrootcert=%s",
		kit.Postgres.Host(), kit.Postgres.Port(), kit.NativeRole, kit.NativePassword, kit.Postgres.CAFile())
	fmt.Println(currentUser(dsn))
	// native_app <nil>
}

func ExamplePostgres_CAFile() {
	kit := startKit(lakebasetest.Options{})
	defer kit.Close()
	pem, err := os.ReadFile(kit.Postgres.CAFile())
	fmt.Println(strings.HasPrefix(string(pem), "-----BEGIN CERTIFICATE-----"), err)
	// true <nil>
}

func ExamplePostgres_SuperuserDSN() {
	srv := startServer(lakebasetest.PostgresOptions{})
	defer srv.Stop()
	db := openDB("postgres", srv.SuperuserDSN())
	defer db.Close()
	var super bool
	fmt.Println(db.QueryRow("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super), super)
	// <nil> true
}

// A native role logs in with its password, straight to the server.
func ExamplePostgres_CreateRole() {
	srv := startServer(lakebasetest.PostgresOptions{})
	defer srv.Stop()
	if err := srv.CreateRole(context.Background(), "reporting", "report-pw"); err != nil {
		log.Fatal(err)
	}
	dsn := fmt.Sprintf("host=%s port=%d user=reporting password=report-pw auth=password sslmode=verify-full sslrootcert=%s",
		srv.Host(), srv.Port(), srv.CAFile())
	fmt.Println(currentUser(dsn))
	// reporting <nil>
}

func ExamplePostgres_CreateDatabase() {
	srv := startServer(lakebasetest.PostgresOptions{})
	defer srv.Stop()
	ctx := context.Background()
	if err := srv.CreateRole(ctx, "shop_owner", "owner-pw"); err != nil {
		log.Fatal(err)
	}
	if err := srv.CreateDatabase(ctx, "shop", "shop_owner"); err != nil {
		log.Fatal(err)
	}
	dsn := fmt.Sprintf("host=%s port=%d user=shop_owner password=owner-pw dbname=shop auth=password sslmode=verify-full sslrootcert=%s",
		srv.Host(), srv.Port(), srv.CAFile())
	fmt.Println(currentUser(dsn))
	// shop_owner <nil>
}

// A restart ends every session with FATAL 57P01; new ones are served again
// once Restart returns.
func ExamplePostgres_Restart() {
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

func ExamplePostgres_Stop() {
	srv := startServer(lakebasetest.PostgresOptions{})
	fmt.Println(srv.Stop(), srv.Stop()) // later calls return the first call's result
	// <nil> <nil>
}
