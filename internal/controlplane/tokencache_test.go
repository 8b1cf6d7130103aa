package controlplane

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go/credentials/u2m/cache"
	"golang.org/x/oauth2"
)

func TestFileTokenCacheRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "lakebase")
	c, err := newFileTokenCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Lookup("https://w.example"); !errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("Lookup in a missing file: %v, want cache.ErrNotFound", err)
	}
	tok := &oauth2.Token{AccessToken: "access", RefreshToken: "refresh", TokenType: "Bearer", Expiry: time.Now().Add(time.Hour).Round(0)}
	if err := c.Store("https://w.example", tok); err != nil {
		t.Fatal(err)
	}
	if err := c.Store("other", &oauth2.Token{AccessToken: "a2"}); err != nil {
		t.Fatal(err)
	}
	// A second cache on the same directory, as a later run would have.
	again, _ := newFileTokenCache(dir)
	got, err := again.Lookup("https://w.example")
	if err != nil {
		t.Fatal(err)
	}
	if got.AccessToken != "access" || got.RefreshToken != "refresh" || !got.Expiry.Equal(tok.Expiry) {
		t.Errorf("Lookup = %+v, want %+v", got, tok)
	}
	if err := again.Store("other", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Lookup("other"); !errors.Is(err, cache.ErrNotFound) {
		t.Errorf("Lookup after Store(nil): %v, want cache.ErrNotFound", err)
	}
	if runtime.GOOS == "windows" {
		return
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, tokenCacheFile): 0o600} {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("%s has mode %#o, want %#o", path, got, want)
		}
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, tokenCacheFile+".*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}
}

func TestFileTokenCacheRefusesSharedFile(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("mode bits do not govern access on Windows")
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o620, 0o666} {
		dir := t.TempDir()
		c, _ := newFileTokenCache(dir)
		if err := c.Store("k", &oauth2.Token{AccessToken: "a", RefreshToken: "r-s3cret"}); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, tokenCacheFile)
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := c.Lookup("k")
		if !errors.Is(err, errInsecureTokenCache) {
			t.Errorf("mode %#o: Lookup = %v, want errInsecureTokenCache", mode, err)
			continue
		}
		if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "chmod 600") || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("mode %#o: %q should name the file and the fix, and no token", mode, err)
		}
		if err := c.Store("k", &oauth2.Token{AccessToken: "b"}); !errors.Is(err, errInsecureTokenCache) {
			t.Errorf("mode %#o: Store = %v, want errInsecureTokenCache", mode, err)
		}
		if info, _ := os.Stat(path); info.Mode().Perm() != mode {
			t.Errorf("mode %#o: the refused file was rewritten", mode)
		}
	}
}

func TestFileTokenCacheRejectsGarbage(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, tokenCacheFile)
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _ := newFileTokenCache(dir)
	if _, err := c.Lookup("k"); err == nil || errors.Is(err, cache.ErrNotFound) {
		t.Errorf("Lookup in a corrupt file: %v, want an error other than not found", err)
	}
}

func TestFileTokenCacheDefaultDir(t *testing.T) {
	isolate(t)
	c, err := newFileTokenCache("")
	if err != nil {
		t.Fatal(err)
	}
	base, _ := os.UserConfigDir()
	if want := filepath.Join(base, "lakebase", tokenCacheFile); c.path != want {
		t.Errorf("default path %s, want %s", c.path, want)
	}
}
