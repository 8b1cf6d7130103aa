package pgserver

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/lakebase-go/lakebase/internal/testenv"
)

// useExisting points p at the server a superuser's URL names and makes sure
// DefaultDatabase exists there.
func (p *Server) useExisting(ctx context.Context, serverURL string) error {
	admin, err := parseConfig(serverURL)
	if err != nil {
		return err
	}
	p.admin, p.tcp = admin, admin.Copy()
	if o, ok := owned.Load(serverURL); ok {
		// This process runs the server: its superuser, and the roles,
		// log in over the trusted socket.
		owner := o.(*Server)
		p.admin, p.trusted = owner.admin, owner.trusted
	}
	p.roleKey = []byte(serverURL)
	p.superuserDSN, err = withDatabase(serverURL, DefaultDatabase)
	if err != nil {
		return err
	}
	err = p.exec(ctx, "", "CREATE DATABASE "+quoteIdent(DefaultDatabase))
	if err != nil && sqlState(err) != codeDuplicateDatabase {
		return fmt.Errorf("lakebasetest: create database %q: %w", DefaultDatabase, err)
	}
	return nil
}

// withDatabase returns a URL or key/value connection string naming database.
func withDatabase(dsn, database string) (string, error) {
	if !strings.Contains(dsn, "://") {
		return dsn + " dbname=" + dsnValue(database), nil
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("lakebasetest: %s is not a valid URL", testenv.PostgresURLEnv)
	}
	u.Path = "/" + database
	return u.String(), nil
}
