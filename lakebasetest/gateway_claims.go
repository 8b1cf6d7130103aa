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
// USAGE on the schema, which stays). It returns what the session calls at
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
	var stmts []string
	for _, g := range fresh {
		schema, table := pgx.Identifier{g.schema}.Sanitize(), pgx.Identifier{g.schema, g.table}.Sanitize()
		who := pgx.Identifier{g.role}.Sanitize()
		stmts = append(stmts, "GRANT USAGE ON SCHEMA "+schema+" TO "+who, "GRANT SELECT ON "+table+" TO "+who)
	}
	if err := s.g.superuserExec(ctx, database, stmts); err != nil {
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
	_ = g.superuserExec(ctx, database, stmts) // the server may be gone with the session
}

// superuserExec runs statements as the server's superuser in database.
func (g *Gateway) superuserExec(ctx context.Context, database string, stmts []string) error {
	if len(stmts) == 0 {
		return nil
	}
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
	if _, err := conn.Exec(ctx, strings.Join(stmts, "; ")).ReadAll(); err != nil {
		return fmt.Errorf("lakebasetest gateway: claims: %w", err)
	}
	return nil
}
