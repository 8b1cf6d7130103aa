package integration_test

import (
	"fmt"
	"log"

	"github.com/jmoiron/sqlx"
	_ "github.com/lakebase-go/lakebase"
)

// sqlx chooses between ? and $1 by the driver's name, and "lakebase" is not
// among the names it knows: tell it once, before the first query, that the
// driver speaks PostgreSQL. Without this line Rebind leaves ? in place and
// NamedExec writes ?, both of which PostgreSQL rejects.
func Example_sqlx() {
	sqlx.BindDriver("lakebase", sqlx.DOLLAR)

	// Opening checks the DSN; nothing is minted until the first query.
	db, err := sqlx.Open("lakebase", "instance=my-db workspace=https://my-workspace.cloud.databricks.com")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	fmt.Println(db.Rebind("SELECT name FROM items WHERE price > ? AND stock > ?"))
	// Then, as with any PostgreSQL driver:
	//   var names []string
	//   err = db.Select(&names, db.Rebind("SELECT name FROM items WHERE price > ?"), 10)
	//   _, err = db.NamedExec("INSERT INTO items (name, price) VALUES (:name, :price)", item)

	// Output:
	// SELECT name FROM items WHERE price > $1 AND stock > $2
}
