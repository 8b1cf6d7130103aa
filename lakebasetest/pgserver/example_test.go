package pgserver_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"strings"
	"testing"

	_ "github.com/lib/pq"

	"github.com/lakebase-go/lakebase/lakebasetest/pgserver"
)

// These examples need PostgreSQL: go test compiles them without running
// them, and the comment at the end of each shows what it prints.

// startServer starts a server for an example, or ends the program.
func startServer(opts pgserver.Options) *pgserver.Server {
	srv, err := pgserver.Start(context.Background(), opts)
	if err != nil {
		log.Fatal(err) // wraps pgserver.ErrNotFound where there is no PostgreSQL
	}
	return srv
}

// currentUser logs in with dsn and returns the session's user.
func currentUser(dsn string) (string, error) {
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return "", err
	}
	defer db.Close()
	var user string
	err = db.QueryRow("SELECT current_user").Scan(&user)
	return user, err
}

// A throwaway server, for code that needs PostgreSQL but not Lakebase.
func ExampleStart() {
	srv := startServer(pgserver.Options{})
	defer srv.Stop()
	db, err := sql.Open("postgres", srv.SuperuserDSN())
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	var name string
	fmt.Println(db.QueryRow("SELECT current_database()").Scan(&name), name)
	// <nil> databricks_postgres
}

// A test's own server, stopped when the test ends.
func ExampleNew() {
	testQueries := func(t *testing.T) {
		srv := pgserver.New(t)
		db, err := sql.Open("postgres", srv.SuperuserDSN())
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
	}
	_ = testQueries
}

// An existing server instead of a throwaway one, or a larger
// max_connections for a throwaway one.
func ExampleOptions() {
	opts := pgserver.Options{MaxConnections: 500}
	if url := os.Getenv("LAKEBASE_TEST_POSTGRES_URL"); url != "" {
		opts = pgserver.Options{URL: url}
	}
	srv := startServer(opts)
	defer srv.Stop()
	fmt.Println(srv.Port() > 0)
	// true
}

// Where CI cannot reach the public npm registry: a proxy of it, and a
// progress line while the download runs.
func ExampleDownloadOptions() {
	srv := startServer(pgserver.Options{
		Download: pgserver.DownloadOptions{
			Registry: "https://artifactory.example.com/artifactory/api/npm/npm-remote",
			Progress: os.Stderr,
		},
	})
	defer srv.Stop()
	fmt.Println(srv.Port() > 0)
	// true
}

// Without downloads, a machine without PostgreSQL gets ErrNotFound, which
// New turns into a skip.
func ExampleDownloadMode() {
	srv := startServer(pgserver.Options{
		Download: pgserver.DownloadOptions{Mode: pgserver.DownloadNever},
	})
	defer srv.Stop()
	fmt.Println(srv.Host())
	// 127.0.0.1
}

func ExampleServer_CAFile() {
	srv := startServer(pgserver.Options{})
	defer srv.Stop()
	pem, err := os.ReadFile(srv.CAFile())
	fmt.Println(strings.HasPrefix(string(pem), "-----BEGIN CERTIFICATE-----"), err)
	// true <nil>
}

func ExampleServer_SuperuserDSN() {
	srv := startServer(pgserver.Options{})
	defer srv.Stop()
	fmt.Println(currentUser(srv.SuperuserDSN()))
	// postgres <nil>
}

// A native role logs in with its password over TLS.
func ExampleServer_CreateRole() {
	srv := startServer(pgserver.Options{})
	defer srv.Stop()
	if err := srv.CreateRole(context.Background(), "reporting", "report-pw"); err != nil {
		log.Fatal(err)
	}
	dsn := fmt.Sprintf("host=%s port=%d user=reporting password=report-pw dbname=%s sslmode=verify-full sslrootcert=%s",
		srv.Host(), srv.Port(), pgserver.DefaultDatabase, srv.CAFile())
	fmt.Println(currentUser(dsn))
	// reporting <nil>
}

func ExampleServer_CreateDatabase() {
	srv := startServer(pgserver.Options{})
	defer srv.Stop()
	ctx := context.Background()
	if err := srv.CreateRole(ctx, "shop_owner", "owner-pw"); err != nil {
		log.Fatal(err)
	}
	if err := srv.CreateDatabase(ctx, "shop", "shop_owner"); err != nil {
		log.Fatal(err)
	}
	dsn := fmt.Sprintf("host=%s port=%d user=shop_owner password=owner-pw dbname=shop sslmode=verify-full sslrootcert=%s",
		srv.Host(), srv.Port(), srv.CAFile())
	fmt.Println(currentUser(dsn))
	// shop_owner <nil>
}

func ExampleServer_Stop() {
	srv := startServer(pgserver.Options{})
	fmt.Println(srv.Stop(), srv.Stop()) // later calls return the first call's result
	// <nil> <nil>
}
