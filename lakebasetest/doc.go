// Package lakebasetest emulates Databricks Lakebase on one machine, for the
// driver's own tests and for users who test their programs in CI without a
// Databricks account.
//
// A Kit has three parts:
//
//   - a PostgreSQL server: a throwaway cluster (initdb into a temporary
//     directory, a free port, SCRAM, TLS with the kit's certificates), or an
//     existing server named by LAKEBASE_TEST_POSTGRES_URL;
//   - a fake Databricks workspace (an httptest server on 127.0.0.1) that the
//     real databricks-sdk-go accepts unchanged: OAuth logins (client
//     credentials, refresh token, PKCE), SCIM Me, instance and endpoint
//     lookups, and both credential APIs, with settable credential lifetime
//     and mint latency, faults on any route and counters;
//   - a gateway in front of the server for every host of every instance and
//     endpoint, as Lakebase has: it asks for the password in clear text over
//     TLS, accepts only an unexpired credential minted for that identity (or
//     for a member of the group whose role it is), workspace-scoped or
//     (Options.StrictCredentialBinding) bound to that instance or endpoint
//     (or a native role's password where allowed),
//     answers like PostgreSQL (FATAL, SQLSTATE 28P01) otherwise, and relays
//     the session. It can simulate a waking endpoint, a restart and an outage.
//
// In a test, New starts a kit and closes it at the end of the test; without
// PostgreSQL installed it skips, except under CI=true, where it fails:
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
// the first of them; TestMain closes it. Require ends a test the way New
// does, for code that starts a kit or a server itself.
//
// A program (a demo, a local development setup) uses Start and Close.
package lakebasetest
