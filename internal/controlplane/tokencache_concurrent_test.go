package controlplane

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go/credentials/u2m/cache"
	"golang.org/x/oauth2"
)

// childEnv names the token cache directory and key prefix of a child
// process started by TestFileTokenCacheConcurrentWriters.
const childEnv = "LAKEBASE_TOKENCACHE_CHILD"

// storeKeys stores keys prefix-0 .. prefix-(n-1) through a cache of its own,
// as a separate program would.
func storeKeys(dir, prefix string, n int) error {
	c, err := newFileTokenCache(dir)
	if err != nil {
		return err
	}
	for i := range n {
		key := fmt.Sprintf("%s-%d", prefix, i)
		if err := c.Store(key, &oauth2.Token{AccessToken: "access-" + key, RefreshToken: "refresh-" + key}); err != nil {
			return err
		}
	}
	return nil
}

// TestFileTokenCacheChildWriter is the child process's work; it does
// nothing unless started by TestFileTokenCacheConcurrentWriters.
func TestFileTokenCacheChildWriter(t *testing.T) {
	v := os.Getenv(childEnv)
	if v == "" {
		t.Skip("runs as a child process of TestFileTokenCacheConcurrentWriters")
	}
	var dir, prefix string
	if err := json.Unmarshal([]byte(v), &[]*string{&dir, &prefix}); err != nil {
		t.Fatal(err)
	}
	if err := storeKeys(dir, prefix, keysPerWriter); err != nil {
		t.Fatal(err)
	}
}

const keysPerWriter = 10

// Several goroutines, each with a cache of its own, and several processes
// store at once, while another goroutine reads: every read sees a whole,
// private file, and at the end every writer's every entry is there.
func TestFileTokenCacheConcurrentWriters(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no flock: concurrent processes may lose entries, though never corrupt the file")
	}
	dir := filepath.Join(t.TempDir(), "lakebase")
	const goroutines, processes = 6, 3
	var prefixes []string
	var wg sync.WaitGroup
	errs := make(chan error, goroutines+processes+1)
	for i := range processes {
		prefix := fmt.Sprintf("process%d", i)
		prefixes = append(prefixes, prefix)
		arg, _ := json.Marshal([]string{dir, prefix})
		cmd := exec.Command(os.Args[0], "-test.run=^TestFileTokenCacheChildWriter$", "-test.count=1")
		cmd.Env = append(os.Environ(), childEnv+"="+string(arg))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			if err := cmd.Wait(); err != nil {
				errs <- fmt.Errorf("child process %s: %w", prefix, err)
			}
		})
	}
	for i := range goroutines {
		prefix := fmt.Sprintf("goroutine%d", i)
		prefixes = append(prefixes, prefix)
		wg.Go(func() {
			if err := storeKeys(dir, prefix, keysPerWriter); err != nil {
				errs <- err
			}
		})
	}
	done := make(chan struct{})
	var reader sync.WaitGroup
	reader.Go(func() {
		c, _ := newFileTokenCache(dir)
		for {
			select {
			case <-done:
				return
			default:
			}
			if _, err := c.Lookup("goroutine0-0"); err != nil && !errors.Is(err, cache.ErrNotFound) {
				errs <- fmt.Errorf("a read during the writes: %w", err)
				return
			}
			time.Sleep(time.Millisecond)
		}
	})
	wg.Wait()
	close(done)
	reader.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	c, _ := newFileTokenCache(dir)
	for _, prefix := range prefixes {
		for i := range keysPerWriter {
			key := fmt.Sprintf("%s-%d", prefix, i)
			tok, err := c.Lookup(key)
			if err != nil || tok.RefreshToken != "refresh-"+key {
				t.Errorf("entry %s: %v, %v; want its token", key, tok, err)
			}
		}
	}
	for _, name := range []string{tokenCacheFile, "oauth-tokens.lock"} {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, %v; want mode 0600", name, info, err)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, tokenCacheFile+".*[0-9]*")); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}
