package pgserver

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// unpackPackage unpacks an npm package's tarball (a gzipped tar file whose
// files are under package/) into dst, which must not exist, and makes the
// library links that native/pg-symlinks.json lists, since a package holds
// none. Directories and files are readable by everyone, so that the
// server's user can run the binaries when the kit runs as root.
func unpackPackage(data []byte, dst string) error {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("the package is not a gzipped tarball: %w", err)
	}
	if err := os.Mkdir(dst, 0o755); err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("the package's tarball: %w", err)
		}
		h.Name = strings.TrimPrefix(strings.TrimPrefix(h.Name, "./"), "package/")
		if err := unpackEntry(tr, h, dst); err != nil {
			return fmt.Errorf("the package's %s: %w", h.Name, err)
		}
	}
	if err := linkLibraries(dst); err != nil {
		return fmt.Errorf("the package's %s: %w", symlinksFile, err)
	}
	return readableByAll(dst)
}

// symlinksFile lists the links of an @embedded-postgres package, which the
// package's install script would make.
const symlinksFile = "native/pg-symlinks.json"

// linkLibraries makes the links that root's symlinksFile lists, if it has
// one: each target links to its source, both inside root.
func linkLibraries(root string) error {
	data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(symlinksFile)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var links []struct{ Source, Target string }
	if err := json.Unmarshal(data, &links); err != nil {
		return err
	}
	for _, l := range links {
		source, target := path.Clean(l.Source), path.Clean(l.Target)
		if !filepath.IsLocal(source) || !filepath.IsLocal(target) {
			return errors.New("a link to outside the package")
		}
		rel, err := filepath.Rel(filepath.Dir(filepath.FromSlash(target)), filepath.FromSlash(source))
		if err != nil {
			return err
		}
		if err := os.Symlink(rel, filepath.Join(root, filepath.FromSlash(target))); err != nil {
			return err
		}
	}
	return nil
}

// unpackEntry writes one entry of a tar file under dst. Names and link
// targets must stay inside dst.
func unpackEntry(r io.Reader, h *tar.Header, dst string) error {
	name := path.Clean(strings.TrimPrefix(h.Name, "./"))
	if !filepath.IsLocal(name) {
		if name == "." {
			return nil
		}
		return errors.New("a name outside the archive")
	}
	target := filepath.Join(dst, filepath.FromSlash(name))
	if h.Typeflag != tar.TypeDir {
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
	}
	switch h.Typeflag {
	case tar.TypeDir:
		return os.MkdirAll(target, 0o755)
	case tar.TypeReg:
		perm := os.FileMode(0o644)
		if h.Mode&0o111 != 0 {
			perm = 0o755
		}
		f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, io.LimitReader(r, maxArtifactSize)); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	case tar.TypeSymlink:
		// Relative to the link's directory, and inside dst.
		if filepath.IsAbs(h.Linkname) || !filepath.IsLocal(path.Join(path.Dir(name), h.Linkname)) {
			return errors.New("a link to outside the archive")
		}
		return os.Symlink(h.Linkname, target)
	case tar.TypeLink:
		linked := path.Clean(h.Linkname)
		if !filepath.IsLocal(linked) {
			return errors.New("a link to outside the archive")
		}
		return os.Link(filepath.Join(dst, filepath.FromSlash(linked)), target)
	default:
		return nil // nothing else belongs in a build of PostgreSQL
	}
}

// readableByAll makes the directories and files under root readable (and
// the directories and programs runnable) by everyone, whatever the umask.
func readableByAll(root string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.Chmod(path, 0o755)
		case info.Mode().IsRegular() && info.Mode()&0o100 != 0:
			return os.Chmod(path, 0o755)
		case info.Mode().IsRegular():
			return os.Chmod(path, 0o644)
		}
		return nil
	})
}
