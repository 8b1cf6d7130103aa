package integration_test

import (
	"database/sql"
	"testing"
)

// checkTables fails the test unless each of tables exists (want true) or
// none does (want false) in the current schema.
func checkTables(t *testing.T, db *sql.DB, want bool, tables ...string) {
	t.Helper()
	for _, table := range tables {
		var n int
		err := db.QueryRow(`SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1`, table).Scan(&n)
		if err != nil {
			t.Fatalf("looking for table %s: %v", table, err)
		}
		if exists := n == 1; exists != want {
			t.Errorf("table %s exists: %v, want %v", table, exists, want)
		}
	}
}
