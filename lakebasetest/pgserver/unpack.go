package pgserver

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/ulikunitz/xz"
)

// Magic numbers of a jar (a zip file) and of an xz stream.
var (
	zipMagic = []byte("PK\x03\x04")
	xzMagic  = []byte("\xfd7zXZ\x00")
)

// unpackArtifact unpacks an artifact into dst, which must not exist: a jar
// holding a .txz (an xz-compressed tar file), as zonky publishes, or the
// .txz itself. Directories and files are readable by everyone, so that the
// server's user can run the binaries when the kit runs as root.
func unpackArtifact(data []byte, dst string) error {
	if bytes.HasPrefix(data, zipMagic) {
		txz, err := txzInJar(data)
		if err != nil {
			return err
		}
		data = txz
	}
	if !bytes.HasPrefix(data, xzMagic) {
		return errors.New("the artifact is neither a jar nor a .txz")
	}
	xr, err := xz.NewReader(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("the artifact's .txz: %w", err)
	}
	if err := os.Mkdir(dst, 0o755); err != nil {
		return err
	}
	tr := tar.NewReader(xr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return readableByAll(dst)
		}
		if err != nil {
			return fmt.Errorf("the artifact's .txz: %w", err)
		}
		if err := unpackEntry(tr, h, dst); err != nil {
			return fmt.Errorf("the artifact's %s: %w", h.Name, err)
		}
	}
}

// txzInJar returns the .txz inside a jar.
func txzInJar(jar []byte) ([]byte, error) {
	zr, err := zip.NewReader(bytes.NewReader(jar), int64(len(jar)))
	if err != nil {
		return nil, fmt.Errorf("the artifact's jar: %w", err)
	}
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, ".txz") || f.FileInfo().IsDir() {
			continue
		}
		r, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("the artifact's %s: %w", f.Name, err)
		}
		defer r.Close()
		txz, err := io.ReadAll(io.LimitReader(r, maxArtifactSize+1))
		if err != nil {
			return nil, fmt.Errorf("the artifact's %s: %w", f.Name, err)
		}
		if len(txz) > maxArtifactSize {
			return nil, fmt.Errorf("the artifact's %s is larger than %d bytes", f.Name, maxArtifactSize)
		}
		return txz, nil
	}
	return nil, errors.New("the artifact's jar holds no .txz")
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
