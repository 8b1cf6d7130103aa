package lakebase_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
	"github.com/lib/pq"
)

// copyRows is how many rows the bulk loads copy; the table's trigger raises
// a NOTICE every copyNoticeEvery rows, so that the server talks while the
// client writes.
const (
	copyRows        = 100_000
	copyNoticeEvery = 10_000
)

// copyServer is a database of its own on the shared server, owned by a
// native role, for the COPY tests.
type copyServer struct {
	host string
	port int
	db   string
}

// newCopyServer creates the role and database once per test.
func newCopyServer(t *testing.T) copyServer {
	t.Helper()
	host, port := nativeRole(t, "copy_user", nativePassword)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := "copy_" + uniqueName("db")[3:]
	if err := testServer(t).CreateDatabase(ctx, name, "copy_user"); err != nil {
		t.Fatal(err)
	}
	return copyServer{host: host, port: port, db: name}
}

// openBoth opens the same session twice, through lib/pq's own connector and
// through lakebase's, each with a notice handler that counts what it gets.
func (s copyServer) openBoth(t *testing.T, sslmode string) map[string]*countedDB {
	t.Helper()
	dsn := fmt.Sprintf("host=%s port=%d user=copy_user password=%s dbname=%s sslmode=%s",
		s.host, s.port, nativePassword, s.db, sslmode)
	pqConn, err := pq.NewConnector(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := lakebase.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	lbConn, err := lakebase.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dbs := map[string]*countedDB{}
	for name, c := range map[string]driver.Connector{"postgres": pqConn, "lakebase": lbConn} {
		cd := &countedDB{}
		cd.DB = sql.OpenDB(pq.ConnectorWithNoticeHandler(c, func(*pq.Error) { cd.notices.Add(1) }))
		t.Cleanup(func() { _ = cd.Close() })
		dbs[name] = cd
	}
	return dbs
}

// countedDB is a sql.DB that counts the notices its sessions receive.
type countedDB struct {
	*sql.DB
	notices atomic.Int64
}

// createCopyTable creates table with a trigger that raises a NOTICE every
// copyNoticeEvery rows.
func createCopyTable(t *testing.T, db *sql.DB, table string) {
	t.Helper()
	_, err := db.Exec(fmt.Sprintf(`
		CREATE TABLE %[1]s (id int PRIMARY KEY, name text NOT NULL);
		CREATE FUNCTION %[1]s_notice() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.id %% %[2]d = 0 THEN RAISE NOTICE 'row %%', NEW.id; END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER %[1]s_notice BEFORE INSERT ON %[1]s FOR EACH ROW EXECUTE FUNCTION %[1]s_notice();`,
		table, copyNoticeEvery))
	if err != nil {
		t.Fatal(err)
	}
}

// withCopy begins a transaction, starts a COPY into table's id and name,
// runs load with both, and ends the copy and commits when load succeeds.
func withCopy(ctx context.Context, db *sql.DB, table string, load func(*sql.Tx, *sql.Stmt) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	stmt, err := tx.PrepareContext(ctx, pq.CopyIn(table, "id", "name"))
	if err != nil {
		return err
	}
	// lib/pq's COPY goroutine reads until the copy ends: end it before the
	// rollback reads too.
	defer func() { _ = stmt.Close() }()
	if err := load(tx, stmt); err != nil {
		return err
	}
	if err := stmt.Close(); err != nil {
		return err
	}
	return tx.Commit()
}

// copyIn loads rows ids [0, n) into table with pq.CopyIn, within ctx.
func copyIn(ctx context.Context, db *sql.DB, table string, n int) error {
	return withCopy(ctx, db, table, func(_ *sql.Tx, stmt *sql.Stmt) error {
		for i := range n {
			if _, err := stmt.ExecContext(ctx, i, fmt.Sprintf("row %d", i)); err != nil {
				return err
			}
		}
		_, err := stmt.ExecContext(ctx)
		return err
	})
}

// A bulk load with pq.CopyIn, while the server sends notices, in plain text
// and over TLS, goes through lakebase as through lib/pq.
func TestCopyInBulkLoad(t *testing.T) {
	srv := newCopyServer(t)
	for _, sslmode := range []string{"disable", "require"} {
		for name, db := range srv.openBoth(t, sslmode) {
			t.Run(sslmode+"/"+name, func(t *testing.T) {
				table := "bulk_" + name + "_" + sslmode
				createCopyTable(t, db.DB, table)
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				if err := copyIn(ctx, db.DB, table, copyRows); err != nil {
					t.Fatalf("COPY of %d rows: %v", copyRows, err)
				}
				var rows int
				if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&rows); err != nil {
					t.Fatal(err)
				}
				if want := int64(copyRows / copyNoticeEvery); rows != copyRows || db.notices.Load() != want {
					t.Errorf("%d rows and %d notices, want %d and %d", rows, db.notices.Load(), copyRows, want)
				}
			})
		}
	}
}

// COPY's error cases give the same errors through lakebase as through
// lib/pq, and leave the pool usable.
func TestCopyInErrorsAsLibPQ(t *testing.T) {
	srv := newCopyServer(t)
	cases := []struct {
		name string
		run  func(ctx context.Context, db *sql.DB, table string) error
	}{
		{"wrong type", func(ctx context.Context, db *sql.DB, table string) error {
			return withCopy(ctx, db, table, func(_ *sql.Tx, stmt *sql.Stmt) error {
				if _, err := stmt.ExecContext(ctx, "not a number", "x"); err != nil {
					return err
				}
				_, err := stmt.ExecContext(ctx)
				return err
			})
		}},
		{"outside a transaction", func(ctx context.Context, db *sql.DB, table string) error {
			_, err := db.PrepareContext(ctx, pq.CopyIn(table, "id", "name"))
			return err
		}},
		{"query during the copy", func(ctx context.Context, db *sql.DB, table string) error {
			return withCopy(ctx, db, table, func(tx *sql.Tx, _ *sql.Stmt) error {
				_, err := tx.ExecContext(ctx, "SELECT 1")
				return err
			})
		}},
		{"duplicate key", func(ctx context.Context, db *sql.DB, table string) error {
			if err := copyIn(ctx, db, table, 10); err != nil {
				return err
			}
			return copyIn(ctx, db, table, 10)
		}},
	}
	for _, sslmode := range []string{"disable", "require"} {
		dbs := srv.openBoth(t, sslmode)
		for _, tc := range cases {
			t.Run(sslmode+"/"+tc.name, func(t *testing.T) {
				errs := map[string]string{}
				for name, db := range dbs {
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					defer cancel()
					table := "copy_err_" + sslmode // the same name, so that the messages compare
					if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+table+"; CREATE TABLE "+table+" (id int PRIMARY KEY, name text)"); err != nil {
						t.Fatal(err)
					}
					err := tc.run(ctx, db.DB, table)
					if err == nil {
						t.Fatalf("%s: no error", name)
					}
					errs[name] = describeError(err)
					if err := db.PingContext(ctx); err != nil {
						t.Errorf("%s: the pool after the error: %v", name, err)
					}
				}
				if errs["lakebase"] != errs["postgres"] {
					t.Errorf("lakebase: %s\nlib/pq:   %s", errs["lakebase"], errs["postgres"])
				}
				t.Logf("both: %s", errs["postgres"])
			})
		}
	}
}

// describeError is err's text with its SQLSTATE, when the server sent one.
func describeError(err error) string {
	var pe *pq.Error
	if errors.As(err, &pe) {
		return fmt.Sprintf("%s (SQLSTATE %s)", err, pe.Code)
	}
	return err.Error()
}
