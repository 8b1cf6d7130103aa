package pgserver

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// serverUser is who runs initdb and postgres: nil for the current user, or,
// when the current user is root, which PostgreSQL refuses to run as, the
// postgres account (Debian's package makes it), else nobody (a machine with
// Go alone, such as a CI container).
type serverUser struct {
	uid, gid uint32
}

func lookupServerUser() (*serverUser, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		u, err = user.Lookup("nobody")
	}
	if err != nil {
		return nil, fmt.Errorf("lakebasetest: running as root needs a postgres or nobody user to run the server as: %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("lakebasetest: %s user id %q: %w", u.Username, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("lakebasetest: %s group id %q: %w", u.Username, u.Gid, err)
	}
	return &serverUser{uid: uint32(uid), gid: uint32(gid)}, nil
}

// chown gives path to the server user, if there is one.
func (u *serverUser) chown(path string) error {
	if u == nil {
		return nil
	}
	return os.Chown(path, int(u.uid), int(u.gid))
}

// procAttr runs a child as the server user, in a process group of its own
// (a terminal's Ctrl-C is for the program, which stops the server itself),
// and asks the kernel to stop the child with SIGQUIT (PostgreSQL's immediate
// shutdown) should this process die without cleaning up, so that a crashed
// test leaves no server behind.
func (u *serverUser) procAttr() *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Pdeathsig: syscall.SIGQUIT, Setpgid: true}
	if u != nil {
		attr.Credential = &syscall.Credential{Uid: u.uid, Gid: u.gid, NoSetGroups: true}
	}
	return attr
}
