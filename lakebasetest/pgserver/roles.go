package pgserver

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// SQLSTATE codes the kit tolerates when it creates what may already exist.
const (
	codeDuplicateObject   = "42710"
	codeDuplicateDatabase = "42P04"
)

// CreateRole creates a role that can log in and create tables in
// DefaultDatabase's public schema, as Lakebase's roles can, or resets the
// password of an existing one. name may be any string, such as an e-mail
// or a UUID.
//
// With a password, the role is a native PostgreSQL role: PostgreSQL checks
// that password over TCP. Without one, it logs in only as ConnConfig gives
// it (on an existing server, with an internal password).
func (p *Server) CreateRole(ctx context.Context, name, password string) error {
	if name == "" {
		return errors.New("lakebasetest: create role: empty name")
	}
	if password == "" && p.cluster == nil {
		password = p.internalPassword(name)
	}
	clause := " LOGIN PASSWORD NULL"
	if password != "" {
		clause = " LOGIN PASSWORD " + quoteLiteral(password)
	}
	err := p.exec(ctx, "", "CREATE ROLE "+quoteIdent(name)+clause)
	if sqlState(err) == codeDuplicateObject {
		err = p.exec(ctx, "", "ALTER ROLE "+quoteIdent(name)+clause)
	}
	if err == nil {
		err = p.exec(ctx, DefaultDatabase, "GRANT ALL ON SCHEMA public TO "+quoteIdent(name))
	}
	if err != nil {
		return fmt.Errorf("lakebasetest: create role %q: %w", name, err)
	}
	if p.cluster == nil {
		p.mu.Lock()
		p.passwords[name] = password
		p.mu.Unlock()
	}
	return nil
}

// CreateDatabase creates a database owned by owner (the superuser if owner
// is empty). On an existing server Stop drops it again.
func (p *Server) CreateDatabase(ctx context.Context, name, owner string) error {
	if err := p.exec(ctx, "", createDatabaseSQL(name, owner, p.fileCopy)); err != nil {
		return fmt.Errorf("lakebasetest: create database %q: %w", name, err)
	}
	if p.cluster == nil {
		p.mu.Lock()
		p.databases = append(p.databases, name)
		p.mu.Unlock()
	}
	return nil
}

// dropDatabases drops what CreateDatabase made on an existing server.
func (p *Server) dropDatabases() error {
	p.mu.Lock()
	names := p.databases
	p.databases = nil
	p.mu.Unlock()
	var errs []error
	for _, name := range names {
		if err := p.exec(context.Background(), "", "DROP DATABASE IF EXISTS "+quoteIdent(name)+" WITH (FORCE)"); err != nil {
			errs = append(errs, fmt.Errorf("lakebasetest: drop database %q: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// ConnConfig returns how to log in as role. With a password, it logs in
// over TCP, where the server checks the password. Without one, it logs in
// the way the server trusts: over the unix socket of a throwaway server (or
// of an existing server that this process runs), or with the internal
// password CreateRole gave the role on an existing one.
// The database is the caller's to set.
func (p *Server) ConnConfig(role, password string) *pgconn.Config {
	if password != "" {
		return p.nativeConfig(role, password)
	}
	if p.trusted != nil {
		cfg := p.trusted.Copy()
		cfg.User, cfg.Password = role, ""
		return cfg
	}
	p.mu.Lock()
	password, ok := p.passwords[role]
	p.mu.Unlock()
	if !ok {
		password = p.internalPassword(role)
	}
	return p.nativeConfig(role, password)
}

// nativeConfig returns how to log in as role with password over TCP, where
// PostgreSQL checks the password.
func (p *Server) nativeConfig(role, password string) *pgconn.Config {
	cfg := p.tcp.Copy()
	cfg.User, cfg.Password = role, password
	return cfg
}

// internalPassword derives an identity role's password on an existing
// server from the server's URL, so that test processes sharing the server
// agree on it.
func (p *Server) internalPassword(role string) string {
	mac := hmac.New(sha256.New, p.roleKey)
	mac.Write([]byte(role))
	return hex.EncodeToString(mac.Sum(nil))
}

// createDatabaseSQL returns a CREATE DATABASE statement; owner may be empty.
func createDatabaseSQL(name, owner string, fileCopy bool) string {
	stmt := "CREATE DATABASE " + quoteIdent(name)
	if owner != "" {
		stmt += " OWNER " + quoteIdent(owner)
	}
	if fileCopy {
		stmt += " STRATEGY = FILE_COPY"
	}
	return stmt
}

// strategyFileCopy reports whether the cluster in data is PostgreSQL 15 or
// later, where CREATE DATABASE ... STRATEGY = FILE_COPY is much faster
// than the default for small databases.
func strategyFileCopy(data string) bool {
	b, err := os.ReadFile(filepath.Join(data, "PG_VERSION"))
	if err != nil {
		return false
	}
	major, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return err == nil && major >= 15
}

// exec runs statements as the superuser in database (the connection's
// default if empty).
//
// The statements run while the session holds the kit's advisory lock in that
// database, so that kits sharing a server (test processes run at once) take
// turns: PostgreSQL refuses to create, alter or grant to one role from two
// sessions at the same moment ("tuple concurrently updated").
func (p *Server) exec(ctx context.Context, database string, statements ...string) error {
	cfg := p.admin.Copy()
	if database != "" {
		cfg.Database = database
	}
	locked := append([]string{"SELECT pg_advisory_lock(" + kitLockKey + ")"}, statements...)
	return execAs(ctx, cfg, locked...)
}

// kitLockKey is the advisory lock the kit's administrative statements take:
// "lakebase" in ASCII, as a bigint. Closing the session releases it.
const kitLockKey = "7809641312023573349"

// execAs runs statements, each on its own, on a connection made with cfg.
func execAs(ctx context.Context, cfg *pgconn.Config, statements ...string) error {
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect as %q: %w", cfg.User, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, stmt := range statements {
		if err := conn.Exec(ctx, stmt).Close(); err != nil {
			return err
		}
	}
	return nil
}

// sqlState returns the SQLSTATE of a PostgreSQL error in err's chain, or "".
func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// quoteIdent quotes a PostgreSQL identifier.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// quoteLiteral quotes a PostgreSQL string literal (standard_conforming_strings on).
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
