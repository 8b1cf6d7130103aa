// Package integration holds the tests that show the lakebase driver working
// with the tools Go programs use on top of database/sql: GORM, sqlx,
// golang-migrate and goose (pgx pools have the lakebasepgx package of the
// driver's module, tested there), and the driver's OpenTelemetry metrics and
// spans as the OpenTelemetry SDK receives them (with its manual reader and
// span recorder). It is a module of its own so that the driver's go.mod does
// not carry their dependencies: the driver imports the OpenTelemetry API
// only, and its users never link the SDK because of it.
//
// Each test starts the lakebasetest kit (a throwaway PostgreSQL behind a
// Lakebase-like gateway, and a fake Databricks workspace) and connects
// through the driver with OAuth machine-to-machine credentials, several of
// them across a credential rotation of a few seconds. Run them with
//
//	cd integration && go test -race -count=1 ./...
//
// The code users copy is in docs/INTEGRATIONS.md at the repository root.
package integration
