package integration_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/lakebase-go/lakebase/lakebasetest"
)

// sqlx keeps bind types in a global table. TestSQLxBindType changes it and
// so runs alone; TestSQLx runs in parallel with the other tools' tests, after
// it.

// item is the row type of the sqlx tests.
type item struct {
	ID    int    `db:"id"`
	Name  string `db:"name"`
	Price int    `db:"price"`
}

// bindAs sets the bind type sqlx uses for the driver name "lakebase" for the
// rest of the test, and puts the previous one back afterwards.
func bindAs(t *testing.T, bindType int) {
	before := sqlx.BindType("lakebase")
	sqlx.BindDriver("lakebase", bindType)
	t.Cleanup(func() { sqlx.BindDriver("lakebase", before) })
}

// sqlx picks the placeholder style from the driver name and does not know
// "lakebase": without help it leaves ? in place, which PostgreSQL rejects.
// BindDriver tells it that lakebase speaks PostgreSQL's $1.
func TestSQLxBindType(t *testing.T) {
	kit := lakebasetest.New(t, lakebasetest.Options{})
	db, err := sqlx.Open("lakebase", kit.DSNs().M2M)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL UNIQUE, price int NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	const query = `SELECT count(*) FROM items WHERE name = ? AND price > ?`

	t.Run("without BindDriver", func(t *testing.T) {
		bindAs(t, sqlx.UNKNOWN) // as sqlx starts out
		if got := db.Rebind(query); got != query {
			t.Errorf("Rebind: %q, want the query unchanged", got)
		}
		var n int
		err := db.Get(&n, db.Rebind(query), "a", 1)
		if err == nil || !strings.Contains(err.Error(), "syntax error") {
			t.Errorf("Get with ? placeholders: %v, want PostgreSQL's syntax error", err)
		}
		_, err = db.NamedExec(`INSERT INTO items (name, price) VALUES (:name, :price)`, item{Name: "a", Price: 1})
		if err == nil || !strings.Contains(err.Error(), "syntax error") {
			t.Errorf("NamedExec: %v, want PostgreSQL's syntax error", err)
		}
	})

	t.Run("with BindDriver", func(t *testing.T) {
		bindAs(t, sqlx.UNKNOWN)
		sqlx.BindDriver("lakebase", sqlx.DOLLAR) // the fix
		want := `SELECT count(*) FROM items WHERE name = $1 AND price > $2`
		if got := db.Rebind(query); got != want {
			t.Errorf("Rebind: %q, want %q", got, want)
		}
		if _, err := db.NamedExec(`INSERT INTO items (name, price) VALUES (:name, :price)`, item{Name: "a", Price: 2}); err != nil {
			t.Fatalf("NamedExec: %v", err)
		}
		var n int
		if err := db.Get(&n, db.Rebind(query), "a", 1); err != nil || n != 1 {
			t.Errorf("Get: %d, %v; want 1, nil", n, err)
		}
	})
}

// Get, Select and NamedExec, with batches and IN lists, across a credential
// rotation.
func TestSQLx(t *testing.T) {
	t.Parallel()
	bindAs(t, sqlx.DOLLAR)
	kit := newRotatingKit(t)
	db, err := sqlx.Open("lakebase", kit.DSNs().M2M)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxIdleConns(0)

	db.MustExec(`CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL UNIQUE, price int NOT NULL)`)
	batch := []item{{Name: "pen", Price: 2}, {Name: "ink", Price: 5}, {Name: "pad", Price: 3}}
	if _, err := db.NamedExec(`INSERT INTO items (name, price) VALUES (:name, :price)`, batch); err != nil {
		t.Fatalf("NamedExec with a batch: %v", err)
	}

	var one item
	if err := db.Get(&one, db.Rebind(`SELECT id, name, price FROM items WHERE name = ?`), "ink"); err != nil {
		t.Fatalf("Get: %v", err)
	}
	if one.Name != "ink" || one.Price != 5 || one.ID == 0 {
		t.Errorf("Get: %+v", one)
	}

	query, args, err := sqlx.In(`SELECT id, name, price FROM items WHERE name IN (?) ORDER BY price`, []string{"pen", "pad"})
	if err != nil {
		t.Fatal(err)
	}
	var some []item
	if err := db.Select(&some, db.Rebind(query), args...); err != nil {
		t.Fatalf("Select with IN: %v", err)
	}
	if len(some) != 2 || some[0].Name != "pen" || some[1].Name != "pad" {
		t.Errorf("Select with IN: %+v", some)
	}

	calls := runWorkload(t, func(ctx context.Context, worker, i int) error {
		name := fmt.Sprintf("w%d-%d", worker, i)
		if _, err := db.NamedExecContext(ctx, `INSERT INTO items (name, price) VALUES (:name, :price)`, item{Name: name, Price: i}); err != nil {
			return fmt.Errorf("NamedExec: %w", err)
		}
		var got item
		if err := db.GetContext(ctx, &got, db.Rebind(`SELECT id, name, price FROM items WHERE name = ?`), name); err != nil {
			return fmt.Errorf("Get: %w", err)
		}
		if got.Price != i {
			return fmt.Errorf("Get: price %d, want %d", got.Price, i)
		}
		var cheap []item
		if err := db.SelectContext(ctx, &cheap, db.Rebind(`SELECT id, name, price FROM items WHERE price < ? ORDER BY id LIMIT 10`), 4); err != nil {
			return fmt.Errorf("Select: %w", err)
		}
		if len(cheap) < 2 {
			return fmt.Errorf("Select: %d rows, want at least 2", len(cheap))
		}
		return nil
	})
	checkRotated(t, kit, calls)
}
