// Package lakebasetest emulates Databricks Lakebase on one machine, for the
// driver's own tests and for users who test their programs in CI without a
// Databricks account: a throwaway PostgreSQL server, a fake Databricks
// workspace that mints short-lived credentials, and a gateway in front of the
// server that, like Lakebase, accepts only unexpired credentials minted for
// the identity and the instance or endpoint it serves.
package lakebasetest
