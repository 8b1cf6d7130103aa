package pgserver

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
)

// hbaConf lets the gateway, which checks minted credentials itself, log in
// as any role over the unix socket, which only this process's user (or, for
// root, the postgres user) can reach; over TCP PostgreSQL checks passwords.
const hbaConf = `# lakebasetest
local all all trust
host  all all 127.0.0.1/32 scram-sha-256
host  all all ::1/128      scram-sha-256
`

// templateLayout names what a template holds; change it whenever
// makeTemplate changes, so that older cached templates are not reused.
const templateLayout = "lakebasetest template 2"

// templateMu keeps this process from making the same template twice at once.
var templateMu sync.Mutex

// prepareData fills data with a new cluster. Making one with initdb takes
// seconds, so the first cluster made with some binaries is copied to the
// user's cache directory as a template, and later clusters are copies of it.
func prepareData(ctx context.Context, bin, dir, data string, owner *serverUser) error {
	cached := templateCachePath(bin)
	templateMu.Lock()
	if cached == "" || !isDir(cached) {
		err := makeTemplate(ctx, bin, dir, data, owner)
		if err == nil && cached != "" {
			storeTemplate(data, cached)
		}
		templateMu.Unlock()
		return err
	}
	templateMu.Unlock()
	if err := copyTree(cached, data, owner); err != nil {
		return fmt.Errorf("lakebasetest: copy the cluster template (delete %s if it is damaged): %w", cached, err)
	}
	return nil
}

// makeTemplate makes a cluster in data with initdb, lets every role create
// tables in public (as before PostgreSQL 15) in template1, creates
// DefaultDatabase from it, and shuts the cluster down cleanly. Its superuser
// has no password yet.
func makeTemplate(ctx context.Context, bin, dir, data string, owner *serverUser) error {
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "initdb"),
		"--pgdata="+data, "--username="+superuser, "--auth=trust",
		"--no-sync", "--locale=C", "--encoding=UTF8", "--wal-segsize=1")
	cmd.Dir = dir
	cmd.Env = serverEnv()
	cmd.SysProcAttr = owner.procAttr()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("lakebasetest: initdb: %w\n%s", err, tail(out))
	}
	if err := os.WriteFile(filepath.Join(data, "pg_hba.conf"), []byte(hbaConf), 0o600); err != nil {
		return fmt.Errorf("lakebasetest: pg_hba.conf: %w", err)
	}
	// Only the unix socket: the port just names it.
	const port = "5432"
	c, err := startPostmaster(ctx, bin, dir, data, owner,
		"listen_addresses=", "port="+port, "unix_socket_directories="+dir, "fsync=off")
	if err != nil {
		return err
	}
	cfg, err := parseConfig(fmt.Sprintf("host=%s port=%s user=%s dbname=template1 sslmode=disable", dsnValue(dir), port, superuser))
	if err == nil {
		err = execAs(ctx, cfg,
			"GRANT ALL ON SCHEMA public TO PUBLIC",
			createDatabaseSQL(DefaultDatabase, "", strategyFileCopy(data)))
	}
	if err != nil {
		return errors.Join(fmt.Errorf("lakebasetest: prepare the cluster: %w", err), c.stop(syscall.SIGQUIT))
	}
	return c.stop(syscall.SIGINT)
}

// templateCachePath returns where the template for the binaries in bin is
// cached, or "" if there is no cache directory.
func templateCachePath(bin string) string {
	root, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	h := sha256.New()
	fmt.Fprintln(h, templateLayout, bin)
	for _, name := range []string{"initdb", "postgres"} {
		info, err := os.Stat(filepath.Join(bin, name))
		if err != nil {
			return ""
		}
		fmt.Fprintln(h, name, info.Size(), info.ModTime().UnixNano())
	}
	return filepath.Join(root, "lakebasetest", "pgdata-"+hex.EncodeToString(h.Sum(nil))[:16])
}

// storeTemplate copies a stopped cluster to the cache. Several processes
// may race: each copies to a directory of its own and renames it into
// place, and the first rename wins. Caching is only an optimization, so
// errors are dropped.
func storeTemplate(data, cached string) {
	if err := os.MkdirAll(filepath.Dir(cached), 0o700); err != nil {
		return
	}
	staging := cached + ".tmp-" + rand.Text()
	if copyTree(data, staging, nil) != nil || os.Rename(staging, cached) != nil {
		_ = os.RemoveAll(staging)
	}
}

// copyTree copies the directories and regular files under src to dst,
// which must not exist, readable by their owner only and owned by owner.
func copyTree(src, dst string, owner *serverUser) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			err = os.Mkdir(target, 0o700)
		case d.Type().IsRegular():
			err = copyFile(path, target)
		default:
			return nil // a stopped cluster has nothing else
		}
		if err != nil {
			return err
		}
		return owner.chown(target)
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func isDir(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.IsDir()
}
