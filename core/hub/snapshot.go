package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hutml/hut/core/hf"
	"github.com/hutml/hut/internal/atomicfile"
)

// TokenizerFiles are downloaded with a model when the repository has them.
var TokenizerFiles = []string{"vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}

// weightCandidates are tried in order; the first present one is used
// (safetensors first: loading it runs no pickle).
var weightCandidates = []string{hf.SafetensorsName, hf.SafetensorsIndexName, hf.TorchName, hf.TorchIndexName}

// Snapshot is a model downloaded into the cache.
type Snapshot struct {
	Repo     string
	Revision string // as requested
	Commit   string // the commit it resolved to
	Dir      string // the snapshot directory in the cache
	Files    []string
	// Fetched lists the files that were downloaded by this call (the
	// others came from the cache).
	Fetched []string
}

// RepoCacheDir returns the cache folder of a model repository:
// {cacheDir}/models--{org}--{name}.
func RepoCacheDir(cacheDir, repo string) string {
	return filepath.Join(cacheDir, "models--"+strings.ReplaceAll(repo, "/", "--"))
}

// session downloads files of one repository, pinning the commit that the
// first request resolved, so that all files come from the same commit even
// if the branch moves during the download.
type session struct {
	c        *Client
	ctx      context.Context
	repo     string
	revision string
	repoDir  string
	commit   string
	snap     *Snapshot
}

func (c *Client) newSession(ctx context.Context, repo, revision string) (*session, error) {
	if err := ValidRepoID(repo); err != nil {
		return nil, err
	}
	if revision == "" {
		revision = DefaultRevision
	}
	if err := validRevision(revision); err != nil {
		return nil, err
	}
	if _, err := c.endpoint(); err != nil {
		return nil, err
	}
	cache, err := c.cacheDir()
	if err != nil {
		return nil, err
	}
	s := &session{c: c, ctx: ctx, repo: repo, revision: revision, repoDir: RepoCacheDir(cache, repo)}
	if IsCommit(revision) {
		s.commit = revision
	} else if c.Offline {
		b, err := os.ReadFile(filepath.Join(s.repoDir, "refs", filepath.FromSlash(revision)))
		if err != nil {
			return nil, fmt.Errorf("hub: %s at %s: offline mode (HF_HUB_OFFLINE) and the revision was never downloaded: %w", repo, revision, ErrNotCached)
		}
		s.commit = strings.TrimSpace(string(b))
		if !IsCommit(s.commit) {
			return nil, fmt.Errorf("hub: corrupt cache ref %s: %q is not a commit", filepath.Join(s.repoDir, "refs", revision), s.commit)
		}
	}
	s.snap = &Snapshot{Repo: repo, Revision: revision, Commit: s.commit}
	return s, nil
}

func (s *session) snapshotPath(commit, name string) string {
	return filepath.Join(s.repoDir, "snapshots", commit, filepath.FromSlash(name))
}

func (s *session) noExistPath(commit, name string) string {
	return filepath.Join(s.repoDir, ".no_exist", commit, filepath.FromSlash(name))
}

func exists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// get makes name available in the snapshot. It returns found=false (and
// no error) when the repository does not have the file; required files
// turn that into an error.
func (s *session) get(name string, required bool) (found bool, err error) {
	if !hf.ValidShardName(name) {
		return false, fmt.Errorf("hub: %s: bad file name %q", s.repo, name)
	}
	if s.commit != "" {
		// The commit is pinned: the cache is authoritative for it.
		if p := s.snapshotPath(s.commit, name); exists(p) {
			s.c.logf("%-32s cached", name)
			s.add(name, false)
			return true, nil
		}
		if exists(s.noExistPath(s.commit, name)) && !required {
			return false, nil
		}
		if s.c.Offline {
			if required {
				return false, fmt.Errorf("hub: %s: %s at %s is not in the cache and offline mode (HF_HUB_OFFLINE) is on: %w", s.repo, name, s.revision, ErrNotCached)
			}
			return false, nil
		}
	}
	rev := s.revision
	if s.commit != "" {
		rev = s.commit
	}
	info, err := s.c.Stat(s.ctx, s.repo, rev, name)
	if errors.Is(err, ErrEntryNotFound) {
		var he *HTTPError
		if errors.As(err, &he) {
			he.Revision = s.revision
		}
		if s.commit != "" {
			if p := s.noExistPath(s.commit, name); os.MkdirAll(filepath.Dir(p), 0o755) == nil {
				os.WriteFile(p, nil, 0o644)
			}
		}
		if required {
			return false, err
		}
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if s.commit == "" {
		s.commit = info.Commit
		s.snap.Commit = info.Commit
	} else if info.Commit != s.commit {
		return false, fmt.Errorf("hub: %s: %s resolved to commit %s, expected %s", s.repo, name, info.Commit, s.commit)
	}
	dst := s.snapshotPath(s.commit, name)
	if st, err := os.Stat(dst); err == nil && st.Mode().IsRegular() && (info.Size < 0 || st.Size() == info.Size) {
		s.c.logf("%-32s cached", name)
		s.add(name, false)
		return true, nil
	}
	if err := s.c.fetch(s.ctx, info, dst); err != nil {
		return false, err
	}
	s.add(name, true)
	return true, nil
}

func (s *session) add(name string, fetched bool) {
	for _, f := range s.snap.Files {
		if f == name {
			return
		}
	}
	s.snap.Files = append(s.snap.Files, name)
	if fetched {
		s.snap.Fetched = append(s.snap.Fetched, name)
	}
}

func (s *session) finish() (*Snapshot, error) {
	if s.commit == "" {
		return nil, fmt.Errorf("hub: %s at %s: nothing was downloaded", s.repo, s.revision)
	}
	s.snap.Dir = filepath.Join(s.repoDir, "snapshots", s.commit)
	if s.revision != s.commit && !s.c.Offline {
		ref := filepath.Join(s.repoDir, "refs", filepath.FromSlash(s.revision))
		if err := os.MkdirAll(filepath.Dir(ref), 0o755); err != nil {
			return nil, fmt.Errorf("hub: %w", err)
		}
		if err := atomicfile.WriteBytes(ref, []byte(s.commit)); err != nil {
			return nil, fmt.Errorf("hub: %w", err)
		}
	}
	return s.snap, nil
}

func (c *Client) logf(format string, a ...any) {
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, format+"\n", a...)
	}
}

// DownloadFile downloads one file of a repository at a revision (default
// "main") into the cache, or finds it there, and returns its path.
func (c *Client) DownloadFile(ctx context.Context, repo, revision, filename string) (string, error) {
	s, err := c.newSession(ctx, repo, revision)
	if err != nil {
		return "", err
	}
	if _, err := s.get(filename, true); err != nil {
		return "", err
	}
	snap, err := s.finish()
	if err != nil {
		return "", err
	}
	return filepath.Join(snap.Dir, filepath.FromSlash(filename)), nil
}

// DownloadModel downloads what a GPT-2 or RoBERTa checkpoint needs:
// config.json (required); the weights, the first of model.safetensors,
// model.safetensors.index.json plus every shard it names,
// pytorch_model.bin, or pytorch_model.bin.index.json plus its shards
// (one is required); and the TokenizerFiles the repository has. All files
// come from the one commit the revision (default "main") resolves to.
// Files already in the cache are not downloaded again.
func (c *Client) DownloadModel(ctx context.Context, repo, revision string) (*Snapshot, error) {
	s, err := c.newSession(ctx, repo, revision)
	if err != nil {
		return nil, err
	}
	if _, err := s.get("config.json", true); err != nil {
		return nil, err
	}
	var weights string
	for _, w := range weightCandidates {
		found, err := s.get(w, false)
		if err != nil {
			return nil, err
		}
		if found {
			weights = w
			break
		}
	}
	if weights == "" {
		msg := ""
		if c.Offline {
			msg = " in the cache (offline mode)"
		}
		return nil, fmt.Errorf("hub: repository %q at revision %q has no weights%s: none of %s: %w",
			repo, s.revision, msg, strings.Join(weightCandidates, ", "), ErrEntryNotFound)
	}
	if strings.HasSuffix(weights, ".index.json") {
		ix, err := hf.ReadIndex(s.snapshotPath(s.commit, weights))
		if err != nil {
			return nil, fmt.Errorf("hub: %s: %w", repo, err)
		}
		for _, shard := range ix.Shards() {
			if _, err := s.get(shard, true); err != nil {
				return nil, fmt.Errorf("%w (shard listed in %s)", err, weights)
			}
		}
	}
	for _, t := range TokenizerFiles {
		if _, err := s.get(t, false); err != nil {
			return nil, err
		}
	}
	return s.finish()
}

// Export makes the snapshot's files available in dir (created if needed),
// keeping their relative names: as hard links to the cache when possible
// (no extra disk space; do not edit them in place, as that would change
// the cache too), else as copies. With copyFiles set, files are always
// copied. Existing files of the same names are replaced atomically.
func (s *Snapshot) Export(dir string, copyFiles bool) error {
	for _, name := range s.Files {
		src := filepath.Join(s.Dir, filepath.FromSlash(name))
		dst := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("hub: export: %w", err)
		}
		if a, err1 := os.Stat(src); err1 == nil {
			if b, err2 := os.Stat(dst); err2 == nil && os.SameFile(a, b) {
				continue
			}
		}
		if !copyFiles {
			tmp := dst + ".hut-link.tmp"
			os.Remove(tmp)
			if err := os.Link(src, tmp); err == nil {
				if err := os.Rename(tmp, dst); err != nil {
					os.Remove(tmp)
					return fmt.Errorf("hub: export: %w", err)
				}
				continue
			}
		}
		err := atomicfile.Write(dst, func(w io.Writer) error {
			f, err := os.Open(src)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(w, f)
			return err
		})
		if err != nil {
			return fmt.Errorf("hub: export %s: %w", name, err)
		}
	}
	return nil
}
