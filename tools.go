//go:build tools

// This file pins modules that the project uses before code imports them, so
// that parallel work on separate packages shares one go.mod.
package lakebase

import (
	_ "github.com/databricks/databricks-sdk-go"
	_ "github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/pgproto3"
	_ "github.com/lib/pq"
	_ "go.uber.org/goleak"
)
