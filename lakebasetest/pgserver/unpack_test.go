package pgserver

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// entry is a file of a synthetic package.
type entry struct {
	name, body, link string
	typ              byte
}

// fakeServer is a server binary that only says it cannot start.
const fakeServer = "#!/bin/sh\necho 'fake PostgreSQL: this package is a test double' >&2\nexit 1\n"

// fakePackage is what an @embedded-postgres package holds, with fake
// binaries: native/bin, native/lib (with a versioned library, whose link
// the package lists) and native/share.
var fakePackage = []entry{
	{name: "package/package.json", body: `{"name": "@embedded-postgres/fake"}`},
	{name: "package/native/bin/initdb", body: fakeServer},
	{name: "package/native/bin/postgres", body: fakeServer},
	{name: "package/native/lib/libicudata.so.60.2", body: "library"},
	{name: "package/native/pg-symlinks.json", body: `[{"source":"native/lib/libicudata.so.60.2","target":"native/lib/libicudata.so.60"}]`},
	{name: "package/native/share/postgresql/postgres.bki", body: "catalog"},
}

// tgzOf returns a gzipped tarball holding entries.
func tgzOf(t *testing.T, entries []entry) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	tw := tar.NewWriter(zw)
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
	if err := errors.Join(tw.Close(), zw.Close()); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// registry is an npm registry on 127.0.0.1 serving package tarballs by
// release, counting requests.
type registry struct {
	url   string
	mu    sync.Mutex
	files map[string][]byte
	hits  atomic.Int32
}

func newRegistry(t *testing.T) *registry {
	t.Helper()
	r := &registry{files: map[string][]byte{}}
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
	r.url = srv.URL + "/npm"
	return r
}

// put serves body as this system's package of release.
func (r *registry) put(t *testing.T, release string, body []byte) {
	u, err := url.Parse(DownloadOptions{Registry: r.url, release: release}.tarballURL(thisPlatform(t)))
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.files[u.Path] = body
}

// thisPlatform is platform(), or the end of a test on a system without
// downloads.
func thisPlatform(t *testing.T) string {
	t.Helper()
	p, err := platform()
	if err != nil {
		t.Skip(err)
	}
	return p
}

// sha256Hex is the SHA-256 sum of b, as pinned.
func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// downloadOnly are options that download release from r into a cache of
// the test's own, whatever is installed, with sum pinned for it.
func downloadOnly(t *testing.T, r *registry, release, sum string) Options {
	return Options{Download: DownloadOptions{
		Mode: DownloadAlways, Registry: r.url, CacheDir: reachableTempDir(t),
		release: release, sums: map[string]string{thisPlatform(t): sum},
	}}
}

// A download from a registry, with the pinned sum, is unpacked once:
// files, a library link and all, readable by everyone.
func TestDownloadUnpacksOnce(t *testing.T) {
	t.Parallel()
	r := newRegistry(t)
	tgz := tgzOf(t, fakePackage)
	r.put(t, "1.0.0", tgz)
	opts := downloadOnly(t, r, "1.0.0", sha256Hex(tgz))
	ctx := context.Background()

	bin, err := serverBinaries(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(opts.Download.CacheDir, thisPlatform(t)+"-1.0.0", "native", "bin"); bin != want {
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
	if hits != 1 {
		t.Errorf("%d requests to the registry, want 1 (the tarball, and no sum beside it)", hits)
	}
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

// A downloaded copy with the pinned sum is unpacked without a network.
func TestDownloadFromArchive(t *testing.T) {
	t.Parallel()
	tgz := tgzOf(t, fakePackage)
	archive := filepath.Join(t.TempDir(), "fake-1.0.0.tgz")
	if err := os.WriteFile(archive, tgz, 0o644); err != nil {
		t.Fatal(err)
	}
	opts := Options{Download: DownloadOptions{
		Mode: DownloadAlways, Registry: "http://127.0.0.1:1/nowhere", Archive: archive, CacheDir: reachableTempDir(t),
		release: "1.0.0", sums: map[string]string{thisPlatform(t): sha256Hex(tgz)},
	}}
	bin, err := serverBinaries(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if !hasServerBinaries(bin) {
		t.Errorf("no binaries in %s", bin)
	}
}

// A package, downloaded or given as a copy, whose SHA-256 sum is not the
// pinned one is refused with an error that names the file and both sums,
// and nothing of it is unpacked or left in the cache.
func TestDownloadSumMismatch(t *testing.T) {
	t.Parallel()
	r := newRegistry(t)
	tgz := tgzOf(t, fakePackage)
	r.put(t, "1.0.0", tgz)
	pinned := strings.Repeat("ab", 32)
	archive := filepath.Join(t.TempDir(), "fake-1.0.0.tgz")
	if err := os.WriteFile(archive, tgz, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, archive, file string }{
		{"download", "", r.url + "/@embedded-postgres/" + thisPlatform(t) + "/-/" + thisPlatform(t) + "-1.0.0.tgz"},
		{"archive", archive, archive},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opts := downloadOnly(t, r, "1.0.0", pinned)
			opts.Download.Archive = tt.archive
			_, err := serverBinaries(context.Background(), opts)
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("error = %v, want ErrNotFound", err)
			}
			for _, want := range []string{tt.file, "SHA-256 " + sha256Hex(tgz), pinned, "not unpacked"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the error does not say %q: %v", want, err)
				}
			}
			if left, _ := os.ReadDir(opts.Download.CacheDir); len(left) != 0 {
				t.Errorf("left in the cache: %v", left)
			}
		})
	}
}

// Every way of not getting PostgreSQL is an ErrNotFound that says why and
// how to get one, and leaves nothing in the cache.
func TestDownloadFailures(t *testing.T) {
	t.Parallel()
	r := newRegistry(t)
	put := func(release string, body []byte) string {
		r.put(t, release, body)
		return sha256Hex(body)
	}
	sums := map[string]string{
		"3.0.0": put("3.0.0", tgzOf(t, []entry{{name: "package/../../etc/evil", body: "x"}})),
		"4.0.0": put("4.0.0", tgzOf(t, []entry{{name: "package/native/lib/evil", link: "../../../etc/passwd", typ: tar.TypeSymlink}})),
		"4.1.0": put("4.1.0", tgzOf(t, []entry{{name: "package/native/pg-symlinks.json", body: `[{"source":"../../etc/passwd","target":"native/lib/evil"}]`}})),
		"5.0.0": put("5.0.0", tgzOf(t, []entry{{name: "package/native/share/readme", body: "no binaries"}})),
		"7.0.0": put("7.0.0", []byte("<html>a captive portal</html>")),
	}
	tests := []struct {
		release, want string
	}{
		{"1.9.9", "404"},
		{"3.0.0", "a name outside the archive"},
		{"4.0.0", "a link to outside the archive"},
		{"4.1.0", "a link to outside the package"},
		{"5.0.0", "the package holds no initdb and postgres"},
		{"7.0.0", "not a gzipped tarball"},
	}
	for _, tt := range tests {
		t.Run(tt.release, func(t *testing.T) {
			opts := downloadOnly(t, r, tt.release, sums[tt.release])
			_, err := serverBinaries(context.Background(), opts)
			if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want ErrNotFound saying %q", err, tt.want)
			}
			for _, want := range []string{"PostgreSQL " + tt.release, "apt-get install postgresql", postgresRegistryEnv, postgresArchiveEnv} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the error does not say %q: %v", want, err)
				}
			}
			if left, _ := os.ReadDir(opts.Download.CacheDir); len(left) != 0 {
				t.Errorf("left in the cache: %v", left)
			}
		})
	}

	t.Run("mode", func(t *testing.T) {
		opts := downloadOnly(t, r, "3.0.0", sums["3.0.0"])
		opts.Download.Mode = "sometimes"
		if _, err := serverBinaries(context.Background(), opts); err == nil || errors.Is(err, ErrNotFound) {
			t.Fatalf("error = %v, want a bad setting reported as such", err)
		}
	})
}

// Every platform the kit downloads for has a sum pinned, of the form a
// SHA-256 sum has.
func TestPinnedSums(t *testing.T) {
	for _, p := range []string{"linux-x64", "linux-arm64", "linux-arm", "linux-ia32", "darwin-x64", "darwin-arm64"} {
		if sum := pinnedSums[p]; len(sum) != 64 || strings.Trim(sum, "0123456789abcdef") != "" {
			t.Errorf("%s: pinned sum %q", p, sum)
		}
	}
	if p, err := platform(); err == nil && pinnedSums[p] == "" {
		t.Errorf("no sum pinned for this system, %s", p)
	}
}

// With downloads off and nothing installed, nothing is downloaded.
func TestDownloadNever(t *testing.T) {
	r := newRegistry(t)
	tgz := tgzOf(t, fakePackage)
	r.put(t, "1.0.0", tgz)
	hideInstalledPostgres(t)
	t.Setenv(postgresDownloadEnv, "never")
	opts := downloadOnly(t, r, "1.0.0", sha256Hex(tgz))
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
