package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/hutml/hut/internal/atomicfile"
	"github.com/hutml/hut/models"
)

// embeddedVersion hashes the embedded files of the named models, so that
// an extracted copy is reused only while it matches the binary.
func embeddedVersion(names ...string) (string, error) {
	h := sha256.New()
	for _, name := range names {
		ents, err := fs.ReadDir(models.FS(), name)
		if err != nil {
			return "", err
		}
		for _, e := range ents {
			b, err := fs.ReadFile(models.FS(), path.Join(name, e.Name()))
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, "%s/%s %d\n", name, e.Name(), len(b))
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

// extractTo writes the embedded model name into dir; config.json goes last,
// so its presence marks a complete copy.
func extractTo(name, dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("extract embedded model %s: %w", name, err)
	}
	ents, err := fs.ReadDir(models.FS(), name)
	if err != nil {
		return err
	}
	for _, last := range []bool{false, true} {
		for _, e := range ents {
			if (e.Name() == "config.json") != last {
				continue
			}
			b, err := fs.ReadFile(models.FS(), path.Join(name, e.Name()))
			if err != nil {
				return err
			}
			if err := atomicfile.WriteBytes(filepath.Join(dir, e.Name()), b); err != nil {
				return err
			}
		}
	}
	return nil
}

func cacheRoot() string {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	return filepath.Join(cache, "hut", "models")
}

// embeddedModel extracts a model carried inside the binary (package
// models) into the user cache directory and returns its directory.
func embeddedModel(name string) (string, bool, error) {
	if _, err := fs.Stat(models.FS(), path.Join(name, "config.json")); err != nil {
		return "", false, nil
	}
	v, err := embeddedVersion(name)
	if err != nil {
		return "", false, err
	}
	dir := filepath.Join(cacheRoot(), name+"-"+v)
	if err := extractTo(name, dir); err != nil {
		return "", false, err
	}
	return dir, true, nil
}

// extractEmbeddedModels extracts every embedded model under one directory
// (for `hut serve` started outside the repository) and returns it.
func extractEmbeddedModels() (string, error) {
	names := models.Names()
	v, err := embeddedVersion(names...)
	if err != nil {
		return "", err
	}
	root := filepath.Join(cacheRoot(), "all-"+v)
	for _, name := range names {
		if err := extractTo(name, filepath.Join(root, name)); err != nil {
			return "", err
		}
	}
	return root, nil
}
