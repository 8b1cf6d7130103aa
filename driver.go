// Package lakebase is a database/sql driver for Databricks Lakebase, the
// managed PostgreSQL of Databricks.
//
// It is registered as "lakebase". It resolves where to connect (a Provisioned
// instance, an Autoscaling endpoint, or a plain host), obtains a credential
// that Lakebase accepts as the Postgres password (an OAuth token minted
// through the Databricks SDK, cached and refreshed before it expires, or a
// native Postgres password), and hands the connection to github.com/lib/pq:
// after login, a connection is lib/pq's own.
//
//	db, err := sql.Open("lakebase", "instance=my-db auth=oauth-m2m")
//
// The DSN is described in ParseDSN and in the README; a Config built in code
// and passed to NewConnector and sql.OpenDB does the same and can also carry
// a TokenSource, a logger and a Databricks SDK client.
package lakebase

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"io"
	"slices"
)

// DriverName is the name the driver is registered under with database/sql.
const DriverName = "lakebase"

// Driver is the lakebase database/sql driver. Its zero value is ready to use.
// It implements driver.DriverContext, so sql.Open parses and checks the DSN
// once, and a bad DSN is reported by sql.Open itself.
type Driver struct{}

var (
	_ driver.Driver        = Driver{}
	_ driver.DriverContext = Driver{}
)

func init() {
	// Another copy of this package (a vendored or replaced one) may have
	// registered the name already; sql.Register would panic.
	if !slices.Contains(sql.Drivers(), DriverName) {
		sql.Register(DriverName, Driver{})
	}
}

// Open opens one connection with a connector made for this call alone.
// database/sql uses OpenConnector instead, which keeps the credential cache
// across connections.
func (d Driver) Open(dsn string) (driver.Conn, error) {
	c, err := d.OpenConnector(dsn)
	if err != nil {
		return nil, err
	}
	defer c.(io.Closer).Close()
	return c.Connect(context.Background())
}

// OpenConnector parses dsn and returns a Connector for it.
func (d Driver) OpenConnector(dsn string) (driver.Connector, error) {
	cfg, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	return NewConnector(cfg)
}
