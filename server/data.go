package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
	"time"
)

// maxDataFile bounds one file of an OpenerFS once decompressed: the
// embedded corpora are a few MB each, and a file that grows past this is
// refused rather than held in memory.
const maxDataFile = 256 << 20

// dataFile reports whether name is a data-set file type served under
// /data/: text only (CSV, TSV, plain text, Markdown, JSON).
func dataFile(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".csv", ".tsv", ".txt", ".md", ".json", ".jsonl":
		return true
	}
	return false
}

// OpenerFS returns a read-only fs.FS over the named files, whose contents
// come from open (for example the embedded data sets: datasets.List() and
// datasets.Open, which decompress on the fly). Each file is read once, on
// first use, and kept in memory (at most 256 MiB per file), so that it can
// be served with ranges, a content-hash ETag and gzip like any other file.
// Directories are implied by the names ("e2e/train.csv" makes "e2e").
// Names must be valid fs paths; invalid ones are skipped.
func OpenerFS(names []string, open func(name string) (io.ReadCloser, error)) fs.FS {
	o := &openerFS{open: open, files: map[string]*lazyData{}, dirs: map[string][]string{}}
	seen := map[string]bool{}
	for _, n := range names {
		if !fs.ValidPath(n) || n == "." || seen[n] {
			continue
		}
		seen[n] = true
		o.files[n] = &lazyData{}
		child := n
		for dir := path.Dir(n); ; dir = path.Dir(dir) {
			if _, ok := o.files[dir]; ok {
				// A name that is both a file and a directory: the file wins.
				break
			}
			known := o.dirs[dir] != nil
			o.dirs[dir] = append(o.dirs[dir], path.Base(child))
			if known || dir == "." {
				break
			}
			child = dir
		}
	}
	for d, kids := range o.dirs {
		sort.Strings(kids)
		o.dirs[d] = compactStrings(kids)
	}
	if o.dirs["."] == nil {
		o.dirs["."] = []string{}
	}
	return o
}

func compactStrings(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

type openerFS struct {
	open  func(string) (io.ReadCloser, error)
	files map[string]*lazyData
	dirs  map[string][]string // directory → sorted child names
}

type lazyData struct {
	once sync.Once
	data []byte
	err  error
}

func (o *openerFS) load(name string, ld *lazyData) ([]byte, error) {
	ld.once.Do(func() {
		rc, err := o.open(name)
		if err != nil {
			ld.err = err
			return
		}
		defer rc.Close()
		b, err := io.ReadAll(io.LimitReader(rc, maxDataFile+1))
		switch {
		case err != nil:
			ld.err = err
		case len(b) > maxDataFile:
			ld.err = fmt.Errorf("%s is larger than %d bytes", name, maxDataFile)
		default:
			ld.data = b
		}
	})
	return ld.data, ld.err
}

// Open implements fs.FS.
func (o *openerFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	if ld, ok := o.files[name]; ok {
		b, err := o.load(name, ld)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return &memFile{Reader: bytes.NewReader(b), info: memInfo{name: path.Base(name), size: int64(len(b))}}, nil
	}
	if kids, ok := o.dirs[name]; ok {
		return &memDir{o: o, name: name, kids: kids}, nil
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

// Stat implements fs.StatFS. The size of a file is known only once it has
// been read, so Stat reads it (once).
func (o *openerFS) Stat(name string) (fs.FileInfo, error) {
	f, err := o.Open(name)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: errors.Unwrap(err)}
	}
	defer f.Close()
	return f.Stat()
}

type memInfo struct {
	name string
	size int64
	dir  bool
}

func (i memInfo) Name() string { return i.name }
func (i memInfo) Size() int64  { return i.size }
func (i memInfo) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o555
	}
	return 0o444
}
func (i memInfo) ModTime() time.Time { return time.Time{} } // the server uses its start time
func (i memInfo) IsDir() bool        { return i.dir }
func (i memInfo) Sys() any           { return nil }

// memFile is an open file of an openerFS: seekable, so ranges work.
type memFile struct {
	*bytes.Reader
	info memInfo
}

func (f *memFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *memFile) Close() error               { return nil }

// memDir is an open directory of an openerFS.
type memDir struct {
	o    *openerFS
	name string
	kids []string
	pos  int
}

func (d *memDir) Stat() (fs.FileInfo, error) {
	return memInfo{name: path.Base(d.name), dir: true}, nil
}
func (d *memDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.name, Err: errors.New("is a directory")}
}
func (d *memDir) Close() error { return nil }

// ReadDir implements fs.ReadDirFile. Entries of files report size 0 until
// read (Info reads them).
func (d *memDir) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.kids[d.pos:]
	if n > 0 && len(rest) == 0 {
		return nil, io.EOF
	}
	if n > 0 && len(rest) > n {
		rest = rest[:n]
	}
	d.pos += len(rest)
	out := make([]fs.DirEntry, len(rest))
	for i, k := range rest {
		full := k
		if d.name != "." {
			full = d.name + "/" + k
		}
		out[i] = memEntry{o: d.o, full: full}
	}
	return out, nil
}

type memEntry struct {
	o    *openerFS
	full string
}

func (e memEntry) Name() string { return path.Base(e.full) }
func (e memEntry) IsDir() bool  { _, ok := e.o.dirs[e.full]; return ok }
func (e memEntry) Type() fs.FileMode {
	if e.IsDir() {
		return fs.ModeDir
	}
	return 0
}
func (e memEntry) Info() (fs.FileInfo, error) { return e.o.Stat(e.full) }
