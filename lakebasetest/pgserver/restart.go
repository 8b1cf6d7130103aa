package pgserver

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"syscall"
)

// Restart restarts a throwaway server the way a fast shutdown does: every
// session gets FATAL 57P01 (admin_shutdown) and then the end of its
// connection (TLS's close_notify first, over TLS), new connections are
// refused while the server is down, and it then accepts them again on the
// same port. It returns once the server accepts connections. It fails on an
// existing server named by URL, which the kit does not own.
func (p *Server) Restart(ctx context.Context) error {
	if p.cluster == nil {
		return errors.New("lakebasetest: restart: only a throwaway server can be restarted")
	}
	return p.cluster.restart(ctx)
}

// restart stops the postmaster with a fast shutdown and starts it again with
// the same command line.
func (c *cluster) restart(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.signal(syscall.SIGINT); err != nil {
		return fmt.Errorf("lakebasetest: restart: %w", err)
	}
	old := c.cmd
	cmd := exec.Command(old.Path, old.Args[1:]...)
	cmd.Dir, cmd.Env, cmd.SysProcAttr = old.Dir, old.Env, old.SysProcAttr
	if err := c.launch(ctx, cmd); err != nil {
		return fmt.Errorf("lakebasetest: restart: %w", err)
	}
	return nil
}
