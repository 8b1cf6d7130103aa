package pgserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lakebase-go/lakebase/lakebasetest/internal/certs"
)

const (
	superuser             = "postgres"
	defaultMaxConnections = 300
)

// errPortTaken means another process bound the chosen port first.
var errPortTaken = errors.New("port already in use")

// cluster is a postgres process serving a data directory of its own.
type cluster struct {
	logFile string
	pidFile string

	mu     sync.Mutex // guards the process, which restart replaces
	cmd    *exec.Cmd
	exited chan struct{} // closed once the process has exited
}

// startCluster makes a cluster in p.dir, starts it on a free port and gives
// its superuser a random password.
func (p *Server) startCluster(ctx context.Context, opts Options) error {
	bin, err := serverBinaries(ctx, opts)
	if err != nil {
		return err
	}
	owner, err := lookupServerUser()
	if err != nil {
		return err
	}
	if err := owner.chown(p.dir); err != nil {
		return fmt.Errorf("lakebasetest: give the server its directory: %w", err)
	}
	data := filepath.Join(p.dir, "data")
	if err := prepareData(ctx, bin, p.dir, data, owner); err != nil {
		return err
	}
	p.fileCopy = strategyFileCopy(data)
	certFile, keyFile := filepath.Join(p.dir, "server.crt"), filepath.Join(p.dir, "server.key")
	for _, f := range []struct {
		path string
		data []byte
	}{{certFile, certs.Server}, {keyFile, certs.ServerKey}} {
		if err := writeOwned(f.path, f.data, owner); err != nil {
			return fmt.Errorf("lakebasetest: server TLS files: %w", err)
		}
	}
	maxConns := opts.MaxConnections
	if maxConns == 0 {
		maxConns = defaultMaxConnections
	}

	var port int
	for attempt := 0; ; attempt++ {
		if port, err = freePort(); err != nil {
			return err
		}
		p.cluster, err = startPostmaster(ctx, bin, p.dir, data, owner,
			"listen_addresses=127.0.0.1",
			"port="+strconv.Itoa(port),
			"unix_socket_directories="+p.dir,
			"max_connections="+strconv.Itoa(maxConns),
			"fsync=off",
			"synchronous_commit=off",
			"full_page_writes=off",
			"ssl=on",
			"ssl_cert_file="+certFile,
			"ssl_key_file="+keyFile,
			"password_encryption=scram-sha-256",
			"log_min_error_statement=panic", // statements may carry passwords
		)
		if !errors.Is(err, errPortTaken) || attempt == 3 {
			break
		}
	}
	if err != nil {
		return err
	}
	if p.admin, err = parseConfig(fmt.Sprintf("host=%s port=%d user=%s sslmode=disable", dsnValue(p.dir), port, superuser)); err != nil {
		return err
	}
	if p.tcp, err = parseConfig(fmt.Sprintf("host=127.0.0.1 port=%d sslmode=disable", port)); err != nil {
		return err
	}
	password := rand.Text()
	p.superuserDSN = fmt.Sprintf("host=127.0.0.1 port=%d user=%s password=%s dbname=%s sslmode=disable",
		port, superuser, dsnValue(password), DefaultDatabase)
	if err := execAs(ctx, p.admin, "ALTER ROLE "+quoteIdent(superuser)+" PASSWORD "+quoteLiteral(password)); err != nil {
		return fmt.Errorf("lakebasetest: set the superuser's password: %w", err)
	}
	p.trusted = p.admin
	owned.Store(p.superuserDSN, p)
	return nil
}

// startPostmaster starts postgres with settings and waits until it accepts
// connections.
func startPostmaster(ctx context.Context, bin, dir, data string, owner *serverUser, settings ...string) (*cluster, error) {
	args := []string{"-D", data}
	for _, s := range settings {
		args = append(args, "-c", s)
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), args...)
	cmd.Dir = dir
	cmd.Env = serverEnv()
	cmd.SysProcAttr = owner.procAttr()
	c := &cluster{logFile: filepath.Join(dir, "postgres.log"), pidFile: filepath.Join(data, "postmaster.pid")}
	if err := c.launch(ctx, cmd); err != nil {
		return nil, err
	}
	return c, nil
}

// launch starts cmd, a postmaster, with its output appended to the log, and
// waits until it accepts connections. The caller holds c.mu or owns c.
func (c *cluster) launch(ctx context.Context, cmd *exec.Cmd) error {
	log, err := os.OpenFile(c.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("lakebasetest: server log: %w", err)
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("lakebasetest: start postgres: %w", err)
	}
	exited := make(chan struct{})
	c.cmd, c.exited = cmd, exited
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()

	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if postmasterReady(c.pidFile) {
			return nil
		}
		select {
		case <-exited:
			logged, _ := os.ReadFile(c.logFile)
			if bytes.Contains(logged, []byte("could not bind")) {
				return errPortTaken
			}
			return fmt.Errorf("lakebasetest: postgres exited at start:\n%s", tail(logged))
		case <-ctx.Done():
			return errors.Join(fmt.Errorf("lakebasetest: wait for postgres: %w", ctx.Err()), c.signal(syscall.SIGQUIT))
		case <-tick.C:
		}
	}
}

// postmasterReady reports whether the status line of postmaster.pid (its
// eighth) says the server accepts connections.
func postmasterReady(pidFile string) bool {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return false
	}
	lines := strings.Split(string(b), "\n")
	return len(lines) > 7 && strings.TrimSpace(lines[7]) == "ready"
}

// stop shuts the server down with sig: SIGQUIT stops it at once (for data
// that is thrown away), SIGINT cleanly. It kills the server if it has not
// exited within ten seconds.
func (c *cluster) stop(sig os.Signal) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.signal(sig)
}

// signal is stop, with c.mu held.
func (c *cluster) signal(sig os.Signal) error {
	_ = c.cmd.Process.Signal(sig)
	select {
	case <-c.exited:
		return nil
	case <-time.After(10 * time.Second):
	}
	_ = c.cmd.Process.Kill()
	<-c.exited
	return errors.New("lakebasetest: postgres did not stop within 10s; killed it")
}

// logTail returns the end of the server's log.
func (c *cluster) logTail() string {
	b, _ := os.ReadFile(c.logFile)
	return tail(b)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("lakebasetest: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// writeOwned writes a file only its owner may read, owned by the server user.
func writeOwned(path string, data []byte, owner *serverUser) error {
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return err
	}
	return owner.chown(path)
}

// serverEnv is this process's environment without PG* variables, which
// initdb and postgres would read.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	return env
}

// tail returns the last lines of a log or command output.
func tail(b []byte) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}
