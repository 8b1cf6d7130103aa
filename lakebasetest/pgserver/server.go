package pgserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/lakebase-go/lakebase/lakebasetest/internal/certs"

	"github.com/jackc/pgx/v5/pgconn"
)

// DefaultDatabase is the database every Lakebase instance and endpoint has,
// and the one Start creates.
const DefaultDatabase = "databricks_postgres"

// Options configures Start. The zero value starts a throwaway cluster with
// the binaries found on the machine.
type Options struct {
	// URL, when set, is a superuser's postgres:// URL of an existing server
	// to use instead of starting one. CreateRole then gives roles without a
	// password internal ones that only ConnConfig gives out.
	URL string

	// BinDir is the directory holding initdb and postgres. Empty: the one
	// PATH names, else the newest /usr/lib/postgresql/*/bin, else binaries
	// that Download says how to get.
	BinDir string

	// Download says how to get PostgreSQL when BinDir is empty and none is
	// installed; its zero value takes the environment's settings.
	Download DownloadOptions

	// MaxConnections is the throwaway server's max_connections; 0 means 300.
	MaxConnections int
}

// Server is a PostgreSQL server for tests: a throwaway cluster that Start
// started and Stop removes, or an existing server named by URL. Its
// methods are safe for concurrent use.
//
// A throwaway cluster checks passwords with SCRAM on its TCP port; its unix
// socket, in a directory only this user (as root: the postgres user) can
// enter, trusts every role.
type Server struct {
	dir          string // temporary: the cluster, its socket, the CA file
	caFile       string
	superuserDSN string

	// admin connects as the superuser (to no database in particular); tcp is
	// the server's TCP address, the base of native-password logins; trusted,
	// when set, is a unix socket where the server trusts every role: a
	// throwaway cluster's own, or that of the cluster of this process that
	// an existing server's URL names.
	admin   *pgconn.Config
	tcp     *pgconn.Config
	trusted *pgconn.Config

	cluster  *cluster // nil for an existing server
	fileCopy bool     // CREATE DATABASE may use STRATEGY = FILE_COPY

	// Existing server only: the key that derives internal role passwords,
	// the passwords CreateRole set, and the databases Stop drops.
	roleKey   []byte
	mu        sync.Mutex
	passwords map[string]string
	databases []string

	stopOnce sync.Once
	stopErr  error
}

// Start starts a throwaway PostgreSQL cluster, or connects to the
// existing server opts.URL names, and makes sure DefaultDatabase exists.
// Call Stop when done. ctx bounds the start only.
//
// Without PostgreSQL's server binaries installed, the first start downloads
// them (opts.Download); when it cannot, the error wraps ErrNotFound. The
// first cluster made with given binaries runs initdb, which takes seconds;
// later ones copy it.
func Start(ctx context.Context, opts Options) (*Server, error) {
	dir, err := os.MkdirTemp("", "lakebasetest-pg-")
	if err != nil {
		return nil, fmt.Errorf("lakebasetest: temporary directory: %w", err)
	}
	p := &Server{dir: dir, caFile: filepath.Join(dir, "ca.pem"), passwords: make(map[string]string)}
	// One err for every step: an error of any step must reach the check
	// below (a shadowed err once let a kit go on without a server).
	err = os.WriteFile(p.caFile, certs.CA, 0o644)
	switch {
	case err != nil:
		err = fmt.Errorf("lakebasetest: CA file: %w", err)
	case opts.URL != "":
		err = p.useExisting(ctx, opts.URL)
	default:
		err = p.startCluster(ctx, opts)
	}
	if err != nil {
		return nil, errors.Join(err, p.Stop())
	}
	return p, nil
}

// owned are the throwaway clusters this process runs, by SuperuserDSN. An
// existing server named by one of these logs roles in without a password
// over the cluster's trusted socket, as the cluster does: a SCRAM login
// costs much CPU, under the race detector most of all.
var owned sync.Map

// Host returns the server's host: 127.0.0.1 for a throwaway cluster.
func (p *Server) Host() string { return p.tcp.Host }

// Port returns the server's port.
func (p *Server) Port() int { return int(p.tcp.Port) }

// CAFile returns the path of a file holding the kit's certificate authority
// in PEM form, for sslrootcert= (or a tls.Config's RootCAs): it signed the
// certificates of the throwaway server and of every gateway of a kit
// (kit.Postgres.CAFile()), not an existing server named by URL.
func (p *Server) CAFile() string { return p.caFile }

// SuperuserDSN returns a connection string for the superuser and
// DefaultDatabase that lib/pq and pgx accept: for a throwaway server,
// key/value over TCP without TLS. It holds the superuser's password: do not
// log it.
func (p *Server) SuperuserDSN() string { return p.superuserDSN }

// Stop stops a throwaway server and removes its files; on an existing server
// it drops the databases CreateDatabase made. Later calls return the first
// call's result.
func (p *Server) Stop() error {
	p.stopOnce.Do(func() {
		var errs []error
		if p.cluster != nil {
			owned.Delete(p.superuserDSN)
			errs = append(errs, p.cluster.stop(syscall.SIGQUIT))
		} else if p.admin != nil {
			errs = append(errs, p.dropDatabases())
		}
		if err := os.RemoveAll(p.dir); err != nil {
			errs = append(errs, fmt.Errorf("lakebasetest: remove the server's directory: %w", err))
		}
		p.stopErr = errors.Join(errs...)
	})
	return p.stopErr
}

// parseConfig parses a connection string for pgconn. The error does not
// wrap pgconn's, whose text may hold the string's password.
func parseConfig(dsn string) (*pgconn.Config, error) {
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New("lakebasetest: invalid server connection string")
	}
	return cfg, nil
}

// dsnValue quotes a value for a key/value connection string.
func dsnValue(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
