package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"

	"github.com/hutml/hut/core/hub"
)

func init() {
	register("download", "download a GPT-2/RoBERTa checkpoint from the Hugging Face Hub", runDownload)
}

// downloadHTTPClient, when set (by tests), replaces the hub client's HTTP
// client.
var downloadHTTPClient *http.Client

// downloadContext is cancelled by Ctrl-C; the partial download is kept.
var downloadContext = func() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt)
}

func runDownload(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("download", "<repo-id> [--revision R] [--dir D] [flags]", stderr)
	revision := fs.String("revision", hub.DefaultRevision, "branch, tag or commit to download")
	dir := fs.String("dir", "", "also place the files in directory `D` (hard links into the cache, or copies)")
	copyFiles := fs.Bool("copy", false, "with --dir: copy the files instead of hard-linking them")
	endpoint := fs.String("endpoint", "", "hub base `URL` (default $HF_ENDPOINT, else "+hub.DefaultEndpoint+")")
	cacheDir := fs.String("cache-dir", "", "cache root (default $HUT_HUB_CACHE, else <user cache dir>/hut/hub)")
	offline := fs.Bool("offline", false, "use only the local cache, no network (also HF_HUB_OFFLINE=1)")
	quiet := fs.Bool("quiet", false, "no progress output")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `usage: hut download <repo-id> [--revision R] [--dir D] [flags]

Downloads config.json, the weights (model.safetensors, a sharded
model.safetensors.index.json set, or pytorch_model.bin) and the tokenizer
files of a GPT-2 or RoBERTa repository into the cache, resuming partial
downloads and verifying sizes and hashes, and prints the directory that
holds them (--dir D, or the cache snapshot).

environment:
  HF_TOKEN        access token for private and gated repositories (never printed)
  HF_ENDPOINT     hub base URL, e.g. a mirror (--endpoint overrides)
  HF_HUB_OFFLINE  1: use only the cache
  HUT_HUB_CACHE   cache root (--cache-dir overrides)

flags:
`)
		fs.PrintDefaults()
	}
	pos, err := dlParseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want exactly one repository id (e.g. openai-community/gpt2), got %d arguments", len(pos))
	}
	repo := pos[0]
	if err := hub.ValidRepoID(repo); err != nil {
		return usagef("%v", err)
	}
	if *copyFiles && *dir == "" {
		return usagef("--copy needs --dir")
	}

	c := hub.NewClient()
	if *endpoint != "" {
		c.Endpoint = *endpoint
	}
	if *cacheDir != "" {
		c.CacheDir = *cacheDir
	}
	if c.CacheDir == "" {
		d, err := hub.DefaultCacheDir()
		if err != nil {
			return err
		}
		c.CacheDir = d
	}
	c.Offline = c.Offline || *offline
	c.HTTPClient = downloadHTTPClient
	if !*quiet {
		c.Progress = stderr
		ep := c.Endpoint
		if ep == "" {
			ep = hub.DefaultEndpoint
		}
		from := ep
		if c.Offline {
			from = "the cache only (offline)"
		}
		auth := "no token"
		if c.Token != "" {
			auth = "with HF_TOKEN"
		}
		fmt.Fprintf(stderr, "downloading %s@%s from %s (%s) into %s\n", repo, *revision, from, auth, c.CacheDir)
	}

	ctx, stop := downloadContext()
	defer stop()
	snap, err := c.DownloadModel(ctx, repo, *revision)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted: %w; run the same command again to resume", err)
		}
		return err
	}
	out := snap.Dir
	if *dir != "" {
		if err := snap.Export(*dir, *copyFiles); err != nil {
			return err
		}
		out = *dir
	}
	if !*quiet {
		fmt.Fprintf(stderr, "%s@%s = commit %s: %d files (%d downloaded, %d from the cache): %s\n",
			repo, *revision, snap.Commit, len(snap.Files), len(snap.Fetched), len(snap.Files)-len(snap.Fetched), strings.Join(snap.Files, ", "))
	}
	fmt.Fprintln(stdout, out)
	return nil
}

// dlParseArgs parses flags that may come before or after the positional
// arguments ("hut download gpt2 --dir x" and "hut download --dir x gpt2").
func dlParseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
