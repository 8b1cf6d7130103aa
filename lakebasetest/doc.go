// Package lakebasetest emulates Databricks Lakebase on one machine, for the
// driver's own tests and for users who test their programs in CI without a
// Databricks account.
//
// A Kit has three parts:
//
//   - a PostgreSQL server: a throwaway cluster (initdb into a temporary
//     directory, a free port, SCRAM, TLS with the kit's certificates), or an
//     existing server (PostgresOptions.URL; the test helpers New,
//     NewPostgres and Shared.Kit read LAKEBASE_TEST_POSTGRES_URL);
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
//     The pooled hosts of an endpoint relay through a real PgBouncer in
//     transaction mode (Debian's pgbouncer package, found on PATH or in
//     /usr/sbin), as Lakebase's pooler does; Kit.StartPgBouncer starts it
//     ahead of the first pooled login, so that Require can skip a test
//     where it is not installed.
//
// # PostgreSQL
//
// The kit runs the installed server binaries (initdb and postgres on PATH,
// else the newest /usr/lib/postgresql/*/bin). Without them, the first start
// downloads PostgreSQL 17.5 once: zonky's
// io.zonky.test.postgres:embedded-postgres-binaries-OS-ARCH artifact from
// Maven Central, a jar of about 10 MB holding a .txz, checked against the
// checksum published beside it and unpacked into
// os.UserCacheDir()/lakebasetest/postgres (/var/cache/lakebasetest/postgres
// for root, whose server runs as the postgres user, or as nobody where
// there is none). Processes that start at once take turns: one downloads.
// DownloadOptions, or these environment variables, change that:
//
//   - LAKEBASE_TEST_POSTGRES_MIRROR: a Maven repository laid out as Maven
//     Central, for a network that cannot reach it (HTTPS_PROXY is honoured);
//   - LAKEBASE_TEST_POSTGRES_ARCHIVE: the path of a copy downloaded
//     beforehand, the .jar or the .txz inside it, so that nothing is
//     downloaded;
//   - LAKEBASE_TEST_POSTGRES_CACHE: where unpacked binaries are kept;
//   - LAKEBASE_TEST_POSTGRES_VERSION: another version of the artifact;
//   - LAKEBASE_TEST_POSTGRES_DOWNLOAD: auto (download only without installed
//     binaries), never, or always (ignore installed binaries).
//
// When no PostgreSQL can be had, Start and StartPostgres return an error
// that wraps ErrPostgresNotFound and says, in one line, what is missing and
// how to get it.
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
// the first of them; TestMain closes it. Require ends a test the way New
// does, for code that starts a kit or a server itself.
//
// A program (a demo, a local development setup) uses Start and Close.
//
// Kit.DSNs verify every certificate against the kit's certificate
// authority; a DSN of one's own names it with
// sslrootcert=kit.Postgres.CAFile(). Code that only talks to the Databricks
// API tests against a workspace on its own, NewWorkspace, as it would
// against an httptest.Server.
package lakebasetest
