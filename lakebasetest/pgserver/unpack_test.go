package lakebasetest

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// entry is a file of a synthetic artifact.
type entry struct {
	name, body, link string
	typ              byte
}

// fakeServer is a server binary that only says it cannot start.
const fakeServer = "#!/bin/sh\necho 'fake PostgreSQL: this artifact is a test double' >&2\nexit 1\n"

// fakeArtifact is what zonky's artifacts hold, with fake binaries: bin,
// lib (with a versioned library and its link) and share at the top.
var fakeArtifact = []entry{
	{name: "bin/", typ: tar.TypeDir},
	{name: "bin/initdb", body: fakeServer},
	{name: "bin/postgres", body: fakeServer},
	{name: "lib/libicudata.so.60.2", body: "library"},
	{name: "lib/libicudata.so.60", link: "libicudata.so.60.2", typ: tar.TypeSymlink},
	{name: "share/postgresql/postgres.bki", body: "catalog"},
}

// txzOf returns a .txz holding entries.
func txzOf(t *testing.T, entries []entry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: 0o644, Size: int64(len(e.body))}
		switch {
		case e.typ == 0:
			h.Typeflag = tar.TypeReg
			if strings.HasPrefix(e.body, "#!") {
				h.Mode = 0o755
			}
		case e.typ == tar.TypeDir:
			h.Mode = 0o755
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.body); h.Typeflag == tar.TypeReg && err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	txz, err := compressXZ(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return txz
}

func fakeJar(t *testing.T, entries []entry) []byte {
	t.Helper()
	jar, err := jarOf("postgres-linux-x86_64.txz", txzOf(t, entries))
	if err != nil {
		t.Fatal(err)
	}
	return jar
}

// repo is a Maven repository on 127.0.0.1 serving files by path below
// /maven2, counting requests.
type repo struct {
	url   string
	mu    sync.Mutex
	files map[string][]byte
	hits  atomic.Int32
}

func newRepo(t *testing.T) *repo {
	t.Helper()
	r := &repo{files: map[string][]byte{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.hits.Add(1)
		r.mu.Lock()
		body, ok := r.files[req.URL.Path]
		r.mu.Unlock()
		if !ok {
			http.NotFound(w, req)
			return
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	r.url = srv.URL + "/maven2"
	return r
}

// put serves body as the artifact of version, and sums (extension to
// content) beside it.
func (r *repo) put(version string, body []byte, sums map[string]string) {
	p := "/maven2" + DownloadOptions{Version: version}.artifactURL()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.files[p] = body
	for ext, sum := range sums {
		r.files[p+ext] = []byte(sum)
	}
}

func sha1Hex(b []byte) string {
	s := sha1.Sum(b)
	return hex.EncodeToString(s[:])
}

// downloadOnly are options that download from r into a cache of the test's
// own, whatever is installed.
func downloadOnly(t *testing.T, r *repo, version string) PostgresOptions {
	return PostgresOptions{Download: DownloadOptions{Mode: DownloadAlways, Mirror: r.url, Version: version, CacheDir: reachableTempDir(t)}}
}

// A download from a mirror, checked against the .sha1 beside it (Maven
// Central has it for every file; .sha256 only for some), is unpacked once:
// files, a library link and all, readable by everyone.
func TestDownloadUnpacksOnce(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	jar := fakeJar(t, fakeArtifact)
	r.put("1.0.0", jar, map[string]string{".sha1": sha1Hex(jar) + "  embedded-postgres-binaries.jar\n"})
	opts := downloadOnly(t, r, "1.0.0")
	ctx := context.Background()

	bin, err := serverBinaries(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(opts.Download.CacheDir, artifact()+"-1.0.0", "bin"); bin != want {
		t.Errorf("binaries in %s, want %s", bin, want)
	}
	lib := filepath.Join(filepath.Dir(bin), "lib")
	if b, err := os.ReadFile(filepath.Join(lib, "libicudata.so.60")); err != nil || string(b) != "library" {
		t.Errorf("the library link reads %q, %v", b, err)
	}
	for path, want := range map[string]os.FileMode{filepath.Join(bin, "initdb"): 0o755, filepath.Join(lib, "libicudata.so.60.2"): 0o644, lib: 0o755 | os.ModeDir} {
		if info, err := os.Stat(path); err != nil || info.Mode() != want {
			t.Errorf("%s: mode %v (%v), want %v", path, info.Mode(), err, want)
		}
	}
	hits := r.hits.Load()
	if _, err := serverBinaries(ctx, opts); err != nil {
		t.Fatal(err)
	}
	if r.hits.Load() != hits {
		t.Error("a second start downloaded again")
	}

	// The binaries run, and fail: the server's error reaches the caller,
	// and nothing panics.
	_, err = StartPostgres(ctx, PostgresOptions{BinDir: bin})
	if err == nil || errors.Is(err, ErrPostgresNotFound) || !strings.Contains(err.Error(), "fake PostgreSQL") {
		t.Errorf("StartPostgres with failing binaries: %v, want initdb's error", err)
	}
}

// A downloaded copy, the jar or the .txz inside, is unpacked without a
// network.
func TestDownloadFromArchive(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	jar := filepath.Join(dir, "artifact.jar")
	txz := filepath.Join(dir, "postgres-linux-x86_64.txz")
	if err := os.WriteFile(jar, fakeJar(t, fakeArtifact), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(txz, txzOf(t, fakeArtifact), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, archive := range []string{jar, txz} {
		opts := PostgresOptions{Download: DownloadOptions{Mode: DownloadAlways, Mirror: "http://127.0.0.1:1/nowhere", Archive: archive, CacheDir: reachableTempDir(t)}}
		bin, err := serverBinaries(context.Background(), opts)
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(archive), err)
		}
		if !hasServerBinaries(bin) {
			t.Errorf("%s: no binaries in %s", filepath.Base(archive), bin)
		}
	}
}

// Every way of not getting PostgreSQL is an ErrPostgresNotFound that says
// why and how to get one, and leaves nothing half unpacked in the cache.
func TestDownloadFailures(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	good := fakeJar(t, fakeArtifact)
	r.put("2.0.0", good, map[string]string{".sha256": strings.Repeat("0", 64)})
	r.put("3.0.0", fakeJar(t, []entry{{name: "../../etc/evil", body: "x"}}), nil)
	r.put("4.0.0", fakeJar(t, []entry{{name: "lib/evil", link: "../../../etc/passwd", typ: tar.TypeSymlink}}), nil)
	r.put("5.0.0", fakeJar(t, []entry{{name: "share/readme", body: "no binaries"}}), nil)
	noTxz, _ := jarOf("README", []byte("no .txz"))
	r.put("6.0.0", noTxz, nil)
	r.put("7.0.0", []byte("<html>a captive portal</html>"), nil)

	tests := []struct {
		version, want string
	}{
		{"1.9.9", "404"},
		{"2.0.0", "does not match its checksum"},
		{"3.0.0", "a name outside the archive"},
		{"4.0.0", "a link to outside the archive"},
		{"5.0.0", "the artifact holds no initdb and postgres"},
		{"6.0.0", "holds no .txz"},
		{"7.0.0", "neither a jar nor a .txz"},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			opts := downloadOnly(t, r, tt.version)
			_, err := serverBinaries(context.Background(), opts)
			if !errors.Is(err, ErrPostgresNotFound) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want ErrPostgresNotFound saying %q", err, tt.want)
			}
			for _, want := range []string{"PostgreSQL " + tt.version, "apt-get install postgresql", postgresMirrorEnv, postgresArchiveEnv} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the error does not say %q: %v", want, err)
				}
			}
			left, _ := filepath.Glob(filepath.Join(opts.Download.CacheDir, "*"))
			for _, f := range left {
				if !strings.HasSuffix(f, ".lock") {
					t.Errorf("left in the cache: %s", f)
				}
			}
		})
	}

	t.Run("mode", func(t *testing.T) {
		opts := downloadOnly(t, r, "2.0.0")
		opts.Download.Mode = "sometimes"
		if _, err := serverBinaries(context.Background(), opts); err == nil || errors.Is(err, ErrPostgresNotFound) {
			t.Fatalf("error = %v, want a bad setting reported as such", err)
		}
	})
}

// With downloads off and nothing installed, nothing is downloaded.
func TestDownloadNever(t *testing.T) {
	r := newRepo(t)
	r.put("1.0.0", fakeJar(t, fakeArtifact), nil)
	hideInstalledPostgres(t)
	t.Setenv(postgresDownloadEnv, "never")
	opts := downloadOnly(t, r, "1.0.0")
	opts.Download.Mode = "" // from the environment
	_, err := serverBinaries(context.Background(), opts)
	if !errors.Is(err, ErrPostgresNotFound) || !strings.Contains(err.Error(), postgresDownloadEnv+"=never") {
		t.Fatalf("error = %v, want ErrPostgresNotFound saying downloads are off", err)
	}
	if r.hits.Load() != 0 {
		t.Error("a download was tried with downloads off")
	}
}

// Without PostgreSQL, Start and StartPostgres return ErrPostgresNotFound and
// panic nowhere. (A start error was once dropped, and Start went on to use
// a server that had not started.)
func TestStartWithoutPostgres(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts := PostgresOptions{BinDir: t.TempDir()}
	if _, err := StartPostgres(ctx, opts); !errors.Is(err, ErrPostgresNotFound) {
		t.Errorf("StartPostgres: %v, want ErrPostgresNotFound", err)
	}
	if _, err := Start(ctx, Options{Postgres: opts}); !errors.Is(err, ErrPostgresNotFound) {
		t.Errorf("Start: %v, want ErrPostgresNotFound", err)
	}
	var s Shared
	s.Options.Postgres = opts
	tb := &recordingTB{TB: t}
	tb.run(func() { s.Kit(tb) })
	if !tb.skipped && !tb.failed {
		t.Error("Shared.Kit neither skipped nor failed without PostgreSQL")
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

// Require skips without PostgreSQL or PgBouncer, giving each reason at its
// first skip only, and fails under CI.
func TestRequire(t *testing.T) {
	for _, tc := range []struct {
		program  string
		notFound error
	}{
		{"postgres", &notFoundError{reason: "none here"}},
		{"pgbouncer", fmt.Errorf("%w: none here", ErrPgBouncerNotFound)},
	} {
		t.Run(tc.program, func(t *testing.T) {
			skipPostgres, skipPgBouncer = sync.Once{}, sync.Once{}
			t.Setenv("CI", "")
			first, second := &recordingTB{TB: t}, &recordingTB{TB: t}
			first.run(func() { Require(first, tc.notFound) })
			second.run(func() { Require(second, tc.notFound) })
			if !first.skipped || !strings.Contains(first.said, "none here") {
				t.Errorf("first skip: skipped %v, said %q", first.skipped, first.said)
			}
			if !second.skipped || second.said != "" {
				t.Errorf("second skip: skipped %v, said %q; want a skip without the reason again", second.skipped, second.said)
			}

			t.Setenv("CI", "true")
			ci := &recordingTB{TB: t}
			ci.run(func() { Require(ci, tc.notFound) })
			if !ci.failed || ci.skipped || !strings.Contains(ci.said, "none here") {
				t.Errorf("under CI: failed %v, skipped %v, said %q", ci.failed, ci.skipped, ci.said)
			}
		})
	}

	other := &recordingTB{TB: t}
	other.run(func() { Require(other, errors.New("initdb: broken")) })
	if !other.failed {
		t.Error("another error did not fail the test")
	}
}

// recordingTB records how a helper ends a test instead of ending it.
type recordingTB struct {
	testing.TB
	skipped, failed bool
	said            string
}

// errEnded stands for runtime.Goexit in recordingTB.
var errEnded = errors.New("the test ended")

func (r *recordingTB) run(f func()) {
	defer func() {
		if v := recover(); v != nil && v != errEnded {
			panic(v)
		}
	}()
	f()
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Skip(args ...any) {
	r.skipped, r.said = true, fmt.Sprint(args...)
	panic(errEnded)
}

func (r *recordingTB) SkipNow() { r.skipped = true; panic(errEnded) }

func (r *recordingTB) Skipf(format string, args ...any) { r.Skip(fmt.Sprintf(format, args...)) }

func (r *recordingTB) Fatal(args ...any) {
	r.failed, r.said = true, fmt.Sprint(args...)
	panic(errEnded)
}

func (r *recordingTB) Fatalf(format string, args ...any) { r.Fatal(fmt.Sprintf(format, args...)) }
