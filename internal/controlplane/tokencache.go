package controlplane

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/databricks/databricks-sdk-go/credentials/u2m/cache"
	"golang.org/x/oauth2"
)

// tokenCacheFile is the file name of the in-process login's token cache.
const tokenCacheFile = "oauth-tokens.json"

// errInsecureTokenCache: the cache file may be read by others, so its
// refresh tokens may have leaked; it is neither used nor rewritten.
var errInsecureTokenCache = errors.New("token cache file is readable or writable by group or others")

// fileTokenCache keeps OAuth tokens, refresh tokens included, in one JSON
// file that only its owner may read (0600, in a 0700 directory). It
// implements the SDK's cache.TokenCache for u2m.PersistentAuth. Writes
// replace the file atomically, so a concurrent reader sees the old or the
// new content, and hold a lock file beside it (where the system has
// flock), so that concurrent writers each keep the others' entries.
type fileTokenCache struct {
	path string
	mu   sync.Mutex
}

var _ cache.TokenCache = (*fileTokenCache)(nil)

// tokenCacheContent is the file's format.
type tokenCacheContent struct {
	Version int                      `json:"version"`
	Tokens  map[string]*oauth2.Token `json:"tokens"`
}

// newFileTokenCache returns the cache in dir, or in the default directory
// when dir is empty. Nothing is created until the first Store.
func newFileTokenCache(dir string) (*fileTokenCache, error) {
	if dir == "" {
		base, err := os.UserConfigDir()
		if err != nil {
			return nil, fmt.Errorf("no directory for the token cache: %w", err)
		}
		dir = filepath.Join(base, "lakebase")
	}
	return &fileTokenCache{path: filepath.Join(dir, tokenCacheFile)}, nil
}

// Lookup returns the token stored under key, or cache.ErrNotFound.
func (c *fileTokenCache) Lookup(key string) (*oauth2.Token, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	content, err := c.read()
	if err != nil {
		return nil, err
	}
	t, ok := content.Tokens[key]
	if !ok || t == nil {
		return nil, cache.ErrNotFound
	}
	return t, nil
}

// Store saves t under key; a nil t removes the key. The file is locked
// from the read to the rename, so that processes storing at once (two
// programs logging in, say) do not lose each other's tokens.
func (c *fileTokenCache) Store(key string, t *oauth2.Token) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	dir := filepath.Dir(c.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("token cache: %w", err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return fmt.Errorf("token cache: %w", err)
	}
	defer unlock()
	content, err := c.read()
	if err != nil {
		return err
	}
	if t == nil {
		delete(content.Tokens, key)
	} else {
		content.Tokens[key] = t
	}
	return c.write(content)
}

// read loads the file; a missing file is an empty cache.
func (c *fileTokenCache) read() (tokenCacheContent, error) {
	content := tokenCacheContent{Version: 1, Tokens: map[string]*oauth2.Token{}}
	f, err := os.Open(c.path)
	if errors.Is(err, fs.ErrNotExist) {
		return content, nil
	}
	if err != nil {
		return content, fmt.Errorf("token cache: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return content, fmt.Errorf("token cache: %w", err)
	}
	if err := checkPrivate(c.path, info); err != nil {
		return content, err
	}
	if err := json.NewDecoder(f).Decode(&content); err != nil {
		return content, fmt.Errorf("token cache %s is not valid JSON: remove it to log in again", c.path)
	}
	if content.Tokens == nil {
		content.Tokens = map[string]*oauth2.Token{}
	}
	return content, nil
}

// checkPrivate refuses a cache file that anyone but its owner may use. On
// Windows, where access is governed by ACLs rather than mode bits, only the
// file's kind is checked.
func checkPrivate(path string, info fs.FileInfo) error {
	if !info.Mode().IsRegular() {
		return fmt.Errorf("token cache %s is not a regular file", path)
	}
	if runtime.GOOS == "windows" {
		return nil
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%w: %s has mode %#o; run chmod 600 on it, or remove it and log in again",
			errInsecureTokenCache, path, perm)
	}
	return nil
}

// write replaces the file with content; its directory exists.
func (c *fileTokenCache) write(content tokenCacheContent) error {
	dir := filepath.Dir(c.path)
	data, err := json.Marshal(content)
	if err != nil {
		return fmt.Errorf("token cache: %w", err)
	}
	// CreateTemp makes the file with mode 0600.
	tmp, err := os.CreateTemp(dir, tokenCacheFile+".*")
	if err != nil {
		return fmt.Errorf("token cache: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("token cache: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("token cache: %w", err)
	}
	if err := os.Rename(tmp.Name(), c.path); err != nil {
		return fmt.Errorf("token cache: %w", err)
	}
	return nil
}
