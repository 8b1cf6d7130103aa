package lakebasepgx

import (
	"strings"

	"github.com/jackc/pgx/v5"
)

// queryExecModeKey is pgx's connection-string key for the query exec mode.
const queryExecModeKey = "default_query_exec_mode"

// forPooler makes cfg correct behind a pooler in transaction mode, where
// each transaction may run on another server connection: pgx's default,
// QueryExecModeCacheStatement, prepares named statements on one server
// connection and runs them later, perhaps on another, which fails (26000,
// prepared statement does not exist) unless the pooler tracks
// protocol-level prepared statements (PgBouncer 1.21 and later, where
// configured). QueryExecModeCacheDescribe keeps pgx's binary formats and
// one round trip per query: it caches only descriptions, and sends each
// query whole (parse, bind, execute) in one message. A mode the user chose
// (default_query_exec_mode in the connection string, or any mode but the
// default) stays.
func forPooler(cfg *pgx.ConnConfig) {
	if cfg.DefaultQueryExecMode != pgx.QueryExecModeCacheStatement || strings.Contains(cfg.ConnString(), queryExecModeKey) {
		return
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeCacheDescribe
}
