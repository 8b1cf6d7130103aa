// Package livetest holds the live smoke suite: tests that connect to a real
// Databricks workspace and Lakebase database, built only with the build tag
// "live" and run only when LAKEBASE_LIVE_WORKSPACE names a workspace (never
// under CI=true). docs/LIVE.md says how a maintainer runs them and what each
// check proves. The package has no API.
package livetest
