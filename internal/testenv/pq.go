package testenv

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/lib/pq"
)

// OpenPQ opens a lib/pq pool of one connection, closed when the test ends.
func OpenPQ(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// OpenSession opens one session on dsn, closed when the test ends.
func OpenSession(t testing.TB, dsn string) *sql.Conn {
	t.Helper()
	conn, err := OpenPQ(t, dsn).Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TCPDSN is a lib/pq DSN for role over TCP, verifying the certificate
// against caFile.
func TCPDSN(host string, port int, caFile, role, password, dbname string) string {
	q := func(s string) string { return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'" }
	return fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=%s sslmode=verify-full sslrootcert=%s connect_timeout=10",
		q(host), port, q(role), q(password), q(dbname), q(caFile))
}

// WantSQLState fails t unless err is a lib/pq error with code.
func WantSQLState(t testing.TB, err error, code string) {
	t.Helper()
	var pqErr *pq.Error
	if !errors.As(err, &pqErr) {
		t.Fatalf("error = %v, want a PostgreSQL error %s", err, code)
	}
	if string(pqErr.Code) != code {
		t.Fatalf("SQLSTATE = %s (%s), want %s", pqErr.Code, pqErr.Message, code)
	}
}
