package lakebasetest_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"time"

	_ "github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
)

// A program's own data access, tested against a kit whose credentials live
// two seconds: the driver rotates them without a failed query. (go test
// compiles this example but does not run it: an example cannot skip where
// there is no PostgreSQL; New in a test can.)
func Example() {
	ctx := context.Background()
	kit, err := lakebasetest.Start(ctx, lakebasetest.Options{CredentialLifetime: 2 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	defer kit.Close()

	db, err := sql.Open("lakebase", kit.DSNs().M2M)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	db.SetMaxIdleConns(0) // a new connection, and so a valid credential, for every query

	if _, err := db.ExecContext(ctx, "CREATE TABLE orders (id serial PRIMARY KEY, item text)"); err != nil {
		log.Fatal(err)
	}
	for _, item := range []string{"tea", "coffee", "cocoa"} {
		if _, err := db.ExecContext(ctx, "INSERT INTO orders (item) VALUES ($1)", item); err != nil {
			log.Fatal(err)
		}
		time.Sleep(time.Second)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM orders").Scan(&n); err != nil {
		log.Fatal(err)
	}
	fmt.Println("orders:", n, "more than one credential minted:", kit.Workspace.Mints() > 1)
	// orders: 3 more than one credential minted: true
}
