package lakebasetest

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// claimTimeout bounds giving or taking back the grants of a scoped session.
const claimTimeout = 30 * time.Second

// tableGrant is SELECT on one table, given to a role in a database while a
// session with a credential that claims the table lasts.
type tableGrant struct {
	database, role string
	schema, table  string // the Postgres counterpart of catalog.schema.table
}

// grantClaims gives role, for the session that logs in with the credential
// password, SELECT on the Postgres counterpart of each Unity Catalog table
// the credential claims: schema.table in the session's database (and
// USAGE on the schema, which stays); a table with no counterpart there
// gets nothing. It returns what the session calls at
// its end to take the grants back; a grant that other scoped sessions of
// the role still hold stays until the last of them ends. Sessions of the
// same role without claims see the grant while it is held: the kit models
// the grants, not their isolation from the role's other sessions.
func (s *session) grantClaims(ctx context.Context, role, password, database string) (release func(), err error) {
	tables := s.g.opts.Store.claims(password)
	if len(tables) == 0 {
		return func() {}, nil
	}
	var fresh, held []tableGrant
	s.g.mu.Lock()
	for _, t := range tables {
		parts := strings.Split(t, ".")
		g := tableGrant{database: database, role: role, schema: parts[1], table: parts[2]}
		if s.g.grants[g] == 0 {
			fresh = append(fresh, g)
		}
		s.g.grants[g]++
		held = append(held, g)
	}
	s.g.mu.Unlock()
	release = func() { s.g.releaseGrants(held) }
	err = s.g.superuserRun(ctx, database, func(ctx context.Context, conn *pgconn.PgConn) error {
		for _, g := range fresh {
			table := pgx.Identifier{g.schema, g.table}.Sanitize()
			exists := conn.ExecParams(ctx, "SELECT to_regclass($1) IS NOT NULL", [][]byte{[]byte(table)}, nil, nil, nil).Read()
			if exists.Err != nil {
				return exists.Err
			}
			if len(exists.Rows) != 1 || string(exists.Rows[0][0]) != "t" {
				continue // no counterpart in this database: nothing to grant
			}
			who := pgx.Identifier{g.role}.Sanitize()
			grant := "GRANT USAGE ON SCHEMA " + pgx.Identifier{g.schema}.Sanitize() + " TO " + who + "; GRANT SELECT ON " + table + " TO " + who
			if _, err := conn.Exec(ctx, grant).ReadAll(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		release()
		return nil, err
	}
	return release, nil
}

// releaseGrants drops a session's hold on its grants and revokes those that
// no other session holds.
func (g *Gateway) releaseGrants(held []tableGrant) {
	var stmts []string
	database := ""
	g.mu.Lock()
	for _, t := range held {
		if g.grants[t]--; g.grants[t] == 0 {
			delete(g.grants, t)
			database = t.database
			stmts = append(stmts, "REVOKE SELECT ON "+pgx.Identifier{t.schema, t.table}.Sanitize()+" FROM "+pgx.Identifier{t.role}.Sanitize())
		}
	}
	g.mu.Unlock()
	if len(stmts) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), claimTimeout)
	defer cancel()
	// The server may be gone with the session; a revoke of a table dropped
	// meanwhile fails alike, and there is nothing left to take back then.
	_ = g.superuserRun(ctx, database, func(ctx context.Context, conn *pgconn.PgConn) error {
		_, err := conn.Exec(ctx, strings.Join(stmts, "; ")).ReadAll()
		return err
	})
}

// superuserRun runs fn on a connection of the server's superuser to
// database.
func (g *Gateway) superuserRun(ctx context.Context, database string, fn func(ctx context.Context, conn *pgconn.PgConn) error) error {
	cfg, err := pgconn.ParseConfig(g.opts.Server.SuperuserDSN())
	if err != nil {
		return fmt.Errorf("lakebasetest gateway: claims: %w", err)
	}
	if database != "" {
		cfg.Database = database
	}
	ctx, cancel := context.WithTimeout(ctx, claimTimeout)
	defer cancel()
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("lakebasetest gateway: claims: %w", err)
	}
	defer conn.Close(context.Background())
	if err := fn(ctx, conn); err != nil {
		return fmt.Errorf("lakebasetest gateway: claims: %w", err)
	}
	return nil
}
