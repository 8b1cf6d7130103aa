package pgserver

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
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
func downloadOnly(t *testing.T, r *repo, version string) Options {
	return Options{Download: DownloadOptions{Mode: DownloadAlways, Mirror: r.url, Version: version, CacheDir: reachableTempDir(t)}}
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
	_, err = Start(ctx, Options{BinDir: bin})
	if err == nil || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "fake PostgreSQL") {
		t.Errorf("Start with failing binaries: %v, want initdb's error", err)
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
		opts := Options{Download: DownloadOptions{Mode: DownloadAlways, Mirror: "http://127.0.0.1:1/nowhere", Archive: archive, CacheDir: reachableTempDir(t)}}
		bin, err := serverBinaries(context.Background(), opts)
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(archive), err)
		}
		if !hasServerBinaries(bin) {
			t.Errorf("%s: no binaries in %s", filepath.Base(archive), bin)
		}
	}
}

// Every way of not getting PostgreSQL is an ErrNotFound that says
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
			if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want ErrNotFound saying %q", err, tt.want)
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
		if _, err := serverBinaries(context.Background(), opts); err == nil || errors.Is(err, ErrNotFound) {
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
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), postgresDownloadEnv+"=never") {
		t.Fatalf("error = %v, want ErrNotFound saying downloads are off", err)
	}
	if r.hits.Load() != 0 {
		t.Error("a download was tried with downloads off")
	}
}

// Without PostgreSQL, Start returns ErrNotFound and panics nowhere. (A
// start error was once dropped, and the kit went on to use a server that
// had not started.)
func TestStartWithoutPostgres(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := Start(ctx, Options{BinDir: t.TempDir()}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Start: %v, want ErrNotFound", err)
	}
}
