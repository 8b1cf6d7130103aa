package pgserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// ErrPgBouncerNotFound means that no pgbouncer program is installed.
// StartPgBouncer returns an error that wraps it.
var ErrPgBouncerNotFound = errors.New("lakebasetest: no pgbouncer")

// How PgBouncer pools, and where it listens. It takes no TCP connections:
// its clients reach it on its unix socket.
const (
	pgBouncerPort         = 6432 // names its socket, .s.PGSQL.6432
	pgBouncerAdmin        = "lakebasetest_pooler"
	defaultPgBouncerPool  = 20
	pgBouncerMaxClients   = 10000 // as Lakebase's pooler
	pgBouncerStartTimeout = 30 * time.Second
)

// pgBouncerPaths are where the kit looks for pgbouncer besides PATH:
// Debian's package installs it under /usr/sbin, which a user's PATH may
// lack. A variable, so that tests can hide it.
var pgBouncerPaths = []string{"/usr/sbin/pgbouncer"}

// PgBouncer is a PgBouncer process in transaction mode in front of a
// Server, as Lakebase runs one in front of each endpoint. It trusts whoever
// reaches its unix socket, in a directory of its own, and logs in to the
// server as each client's role with the password ConnConfig was given for
// that role. Its methods are safe for concurrent use.
type PgBouncer struct {
	dir       string // its configuration, auth file, log and socket
	authFile  string
	logFile   string
	cmd       *exec.Cmd
	exited    chan struct{}
	adminConn *pgconn.Config
	owner     *serverUser // who runs it and owns its files

	mu    sync.Mutex        // serializes changes to the auth file
	roles map[string]string // the auth file: role to server password
}

// findPgBouncer returns the path of the pgbouncer program.
func findPgBouncer() (string, error) {
	if path, err := exec.LookPath("pgbouncer"); err == nil {
		return path, nil
	}
	for _, path := range pgBouncerPaths {
		if info, err := os.Stat(path); err == nil && !info.IsDir() {
			return path, nil
		}
	}
	return "", fmt.Errorf("%w: the pooled hosts run PgBouncer in transaction mode: install it (apt-get install pgbouncer, brew install pgbouncer)", ErrPgBouncerNotFound)
}

// StartPgBouncer starts a PgBouncer in front of the server that keeps up
// to poolSize server connections per role and database (0 means 20), and
// waits until it serves. Call Stop when done. Where pgbouncer is not
// installed (on PATH or in /usr/sbin), the error wraps ErrPgBouncerNotFound.
func (p *Server) StartPgBouncer(ctx context.Context, poolSize int) (*PgBouncer, error) {
	program, err := findPgBouncer()
	if err != nil {
		return nil, err
	}
	owner, err := lookupServerUser()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "lakebasetest-pgbouncer-")
	if err != nil {
		return nil, fmt.Errorf("lakebasetest: pgbouncer: temporary directory: %w", err)
	}
	b := &PgBouncer{
		dir:      dir,
		authFile: filepath.Join(dir, "users.txt"),
		logFile:  filepath.Join(dir, "pgbouncer.log"),
		roles:    make(map[string]string),
		owner:    owner,
	}
	if b.adminConn, err = parseConfig(fmt.Sprintf("host=%s port=%d user=%s dbname=pgbouncer sslmode=disable", dsnValue(dir), pgBouncerPort, pgBouncerAdmin)); err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	if poolSize <= 0 {
		poolSize = defaultPgBouncerPool
	}
	host, port := p.poolerAddress()
	ini := filepath.Join(dir, "pgbouncer.ini")
	err = errors.Join(
		owner.chown(dir),
		writeOwned(b.authFile, b.authFileText(), owner),
		writeOwned(ini, []byte(pgBouncerConfig(host, port, dir, b.authFile, b.logFile, poolSize)), owner),
	)
	if err == nil {
		err = b.launch(ctx, program, ini)
	}
	if err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	return b, nil
}

// pgBouncerConfig is PgBouncer's configuration file. server_login_retry is
// short so that the pool recovers within a second of a server restart.
func pgBouncerConfig(serverHost string, serverPort int, dir, authFile, logFile string, poolSize int) string {
	lines := []string{
		"[databases]",
		fmt.Sprintf("* = host=%s port=%d", serverHost, serverPort),
		"[pgbouncer]",
		"listen_addr =",
		"listen_port = " + strconv.Itoa(pgBouncerPort),
		"unix_socket_dir = " + dir,
		"auth_type = trust",
		"auth_file = " + authFile,
		"admin_users = " + pgBouncerAdmin,
		"pool_mode = transaction",
		"max_client_conn = " + strconv.Itoa(pgBouncerMaxClients),
		"default_pool_size = " + strconv.Itoa(poolSize),
		"server_tls_sslmode = prefer",
		"server_login_retry = 1",
		"logfile = " + logFile,
		"log_connections = 0",
		"log_disconnections = 0",
	}
	return strings.Join(lines, "\n") + "\n"
}

// launch starts PgBouncer and waits until its admin console answers.
func (b *PgBouncer) launch(ctx context.Context, program, ini string) error {
	cmd := exec.Command(program, ini)
	cmd.Dir = b.dir
	cmd.Env = serverEnv()
	cmd.SysProcAttr = b.owner.procAttr() // SIGQUIT, should this process die, ends PgBouncer too
	passFileLimit()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("lakebasetest: start pgbouncer: %w", err)
	}
	b.cmd, b.exited = cmd, make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(b.exited)
	}()
	ctx, cancel := context.WithTimeout(ctx, pgBouncerStartTimeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := b.admin(ctx, "SHOW VERSION"); err == nil {
			return nil
		}
		select {
		case <-b.exited:
			return fmt.Errorf("lakebasetest: pgbouncer exited at start:\n%s", b.logTail())
		case <-ctx.Done():
			return errors.Join(fmt.Errorf("lakebasetest: wait for pgbouncer: %w\n%s", ctx.Err(), b.logTail()), b.Stop())
		case <-tick.C:
		}
	}
}

// admin runs a command on PgBouncer's admin console.
func (b *PgBouncer) admin(ctx context.Context, command string) error {
	conn, err := pgconn.ConnectConfig(ctx, b.adminConn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, command).ReadAll()
	return err
}

// ConnConfig returns how to open a session as role through PgBouncer,
// which logs in to the server with serverPassword (empty: the way the
// server trusts, as Server.ConnConfig says). A role it has not seen, or
// whose password changed, is written to its auth file first, and PgBouncer
// reloads it before ConnConfig returns. The database is the caller's to set.
func (b *PgBouncer) ConnConfig(ctx context.Context, role, serverPassword string) (*pgconn.Config, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if known, ok := b.roles[role]; !ok || known != serverPassword {
		b.roles[role] = serverPassword
		if err := b.writeAuthFile(); err != nil {
			delete(b.roles, role)
			return nil, err
		}
		if err := b.admin(ctx, "RELOAD"); err != nil {
			delete(b.roles, role)
			return nil, fmt.Errorf("lakebasetest: pgbouncer: reload its roles: %w", err)
		}
	}
	cfg := b.adminConn.Copy()
	cfg.User = role
	return cfg, nil
}

// writeAuthFile replaces the auth file with b.roles; b.mu is held.
func (b *PgBouncer) writeAuthFile() error {
	tmp := b.authFile + ".new"
	err := writeOwned(tmp, b.authFileText(), b.owner)
	if err == nil {
		err = os.Rename(tmp, b.authFile)
	}
	if err != nil {
		return fmt.Errorf("lakebasetest: pgbouncer: write its roles: %w", err)
	}
	return nil
}

// authFileText is the auth file: the admin console's user, and each role
// with the password PgBouncer gives the server for it.
func (b *PgBouncer) authFileText() []byte {
	var buf bytes.Buffer
	line := func(name, password string) {
		q := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
		buf.WriteString(q(name) + " " + q(password) + "\n")
	}
	line(pgBouncerAdmin, "")
	for role, password := range b.roles {
		line(role, password)
	}
	return buf.Bytes()
}

// CancelAddress is where a cancel request for a session through PgBouncer
// goes: PgBouncer itself, which gave the client its key.
func (b *PgBouncer) CancelAddress() (network, address string) {
	return "unix", filepath.Join(b.dir, ".s.PGSQL."+strconv.Itoa(pgBouncerPort))
}

// Stop ends PgBouncer at once and removes its files.
func (b *PgBouncer) Stop() error {
	var err error
	if b.cmd != nil {
		_ = b.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-b.exited:
		case <-time.After(10 * time.Second):
			_ = b.cmd.Process.Kill()
			<-b.exited
			err = errors.New("lakebasetest: pgbouncer did not stop within 10s; killed it")
		}
	}
	return errors.Join(err, os.RemoveAll(b.dir))
}

// logTail returns the end of PgBouncer's log.
func (b *PgBouncer) logTail() string {
	logged, _ := os.ReadFile(b.logFile)
	return tail(logged)
}

// poolerAddress is where PgBouncer reaches the server: its trusted unix
// socket, or an existing server's address.
func (p *Server) poolerAddress() (host string, port int) {
	if p.trusted != nil {
		return p.trusted.Host, int(p.trusted.Port)
	}
	return p.tcp.Host, int(p.tcp.Port)
}
