// Package lakebasetest emulates Databricks Lakebase on one machine, for the
// driver's own tests and for users who test their programs in CI without a
// Databricks account.
//
// A Kit has three parts:
//
//   - a PostgreSQL server (package pgserver): a throwaway cluster with SCRAM
//     and TLS, or an existing server (Options.Postgres.URL; New and
//     Shared.Kit read LAKEBASE_TEST_POSTGRES_URL);
//   - a fake Databricks workspace (an httptest server on 127.0.0.1) that the
//     real databricks-sdk-go accepts unchanged: OAuth logins (client
//     credentials, refresh token, PKCE), SCIM Me, instance and endpoint
//     lookups, and both credential APIs, with settable credential lifetime
//     and mint latency, faults on any route and counters;
//   - a gateway in front of the server for every host of every instance and
//     endpoint, as Lakebase has. It asks for the password in clear text over
//     TLS and accepts only an unexpired credential minted for that identity,
//     or for a member of the group whose role it is, or a native role's
//     password where allowed. It answers like PostgreSQL (FATAL, SQLSTATE
//     28P01) otherwise, and relays the session. It can simulate a waking
//     endpoint, a restart and an outage. The pooled hosts of an endpoint
//     relay through a real PgBouncer in transaction mode, as Lakebase's
//     pooler does.
//
// # In tests
//
// In a test, New starts a kit and closes it at the end of the test; without
// PostgreSQL (none installed, no download) it skips, the first skipped test
// of the process giving the reason, except under CI=true, where it fails:
//
//	func TestOrders(t *testing.T) {
//		kit := lakebasetest.New(t, lakebasetest.Options{CredentialLifetime: 5 * time.Second})
//		db, err := sql.Open("lakebase", kit.DSNs().M2M)
//		if err != nil {
//			t.Fatal(err)
//		}
//		defer db.Close()
//		// ... exercise your code with db; credentials rotate every few seconds.
//		if kit.Workspace.Mints() == 0 {
//			t.Fatal("nothing was minted")
//		}
//	}
//
// Tests that can share one kit take it from a Shared, which starts it for
// the first of them; TestMain closes it. A program (a demo, a local
// development setup) uses Start and Close.
//
// Kit.DSNs verify every certificate against the kit's certificate
// authority; a DSN of one's own names it with
// sslrootcert=kit.Postgres.CAFile(). Code that only talks to the Databricks
// API tests against a workspace on its own, NewWorkspace, as it would
// against an httptest.Server.
package lakebasetest
