//go:build !linux

package pgserver

import (
	"errors"
	"os"
	"syscall"
)

// serverUser is who runs initdb and postgres. Outside Linux it is always the
// current user, who must not be root.
type serverUser struct{}

func lookupServerUser() (*serverUser, error) {
	if os.Geteuid() == 0 {
		return nil, errors.New("lakebasetest: PostgreSQL cannot run as root; running the server as the postgres user is supported on Linux only")
	}
	return nil, nil
}

func (u *serverUser) chown(string) error { return nil }

func (u *serverUser) procAttr() *syscall.SysProcAttr { return nil }
