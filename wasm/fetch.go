//go:build js && wasm

package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall/js"
	"time"

	"github.com/hutml/hut/core/webgpu/gpu"
	"github.com/hutml/hut/wasm/engine"
)

// errNotFound is wrapped by fetchBytes' error for an HTTP 404.
var errNotFound = errors.New("not found")

// fetchBytes downloads url through the browser's fetch (no net/http in the
// binary), posting progress as it arrives. what names the file in progress
// events.
func fetchBytes(url, what string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	resp, err := gpu.Await(ctx, js.Global().Call("fetch", url))
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %v (is hut serve running, and the URL right?)", url, err)
	}
	status := resp.Get("status").Int()
	if !resp.Get("ok").Bool() {
		err := fmt.Errorf("fetch %s: HTTP %d %s", url, status, resp.Get("statusText").String())
		if status == 404 {
			err = fmt.Errorf("%w: %w", errNotFound, err)
		}
		return nil, err
	}
	var total int64
	if h := resp.Get("headers").Call("get", "content-length"); h.Type() == js.TypeString {
		total, _ = strconv.ParseInt(h.String(), 10, 64)
	}
	if enc := resp.Get("headers").Call("get", "content-encoding"); enc.Type() == js.TypeString && enc.String() != "" && enc.String() != "identity" {
		total = 0 // the length is of the compressed body
	}
	report := eventReporter()
	body := resp.Get("body")
	if body.Type() != js.TypeObject {
		ab, err := gpu.Await(ctx, resp.Call("arrayBuffer"))
		if err != nil {
			return nil, fmt.Errorf("fetch %s: reading the body: %v", url, err)
		}
		b, _ := bytesOf(ab)
		report(what, int64(len(b)), int64(len(b)), nil)
		return b, nil
	}
	reader := body.Call("getReader")
	buf := make([]byte, 0, max(total, 0))
	report(what, 0, total, nil)
	for {
		r, err := gpu.Await(ctx, reader.Call("read"))
		if err != nil {
			return nil, fmt.Errorf("fetch %s: download failed after %d bytes: %v", url, len(buf), err)
		}
		if r.Get("done").Bool() {
			break
		}
		chunk := r.Get("value")
		n := chunk.Get("byteLength").Int()
		if len(buf)+n > cap(buf) {
			nb := make([]byte, len(buf), max(2*cap(buf), len(buf)+n))
			copy(nb, buf)
			buf = nb
		}
		buf = buf[:len(buf)+n]
		js.CopyBytesToGo(buf[len(buf)-n:], chunk)
		t := total
		if int64(len(buf)) > t {
			t = 0
		}
		report(what, int64(len(buf)), t, nil)
	}
	if total > 0 && int64(len(buf)) != total {
		return nil, fmt.Errorf("fetch %s: got %d of %d bytes (the connection broke?)", url, len(buf), total)
	}
	report(what, int64(len(buf)), int64(len(buf)), nil)
	return buf, nil
}

func eventReporter() engine.ProgressFunc { return progressPoster() }

// fetchModel downloads a model directory served by hut serve:
// config.json, model.safetensors (or pytorch_model.bin) and the tokenizer
// files that exist (tokenizer.json, or vocab.json + merges.txt, and
// tokenizer_config.json).
func fetchModel(url string) (engine.ModelFiles, error) {
	if !strings.HasSuffix(url, "/") {
		url += "/"
	}
	files := engine.ModelFiles{}
	get := func(name string, optional bool) (bool, error) {
		b, err := fetchBytes(url+name, name)
		if err != nil {
			if optional && errors.Is(err, errNotFound) {
				return false, nil
			}
			return false, fmt.Errorf("loadModel: %w", err)
		}
		files[name] = b
		return true, nil
	}
	if _, err := get("config.json", false); err != nil {
		return nil, err
	}
	ok, err := get("model.safetensors", true)
	if err != nil {
		return nil, err
	}
	if !ok {
		if ok, err = get("pytorch_model.bin", true); err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("loadModel: %s has neither model.safetensors nor pytorch_model.bin", url)
		}
	}
	ok, err = get("tokenizer.json", true)
	if err != nil {
		return nil, err
	}
	if !ok {
		if ok, err = get("vocab.json", true); err != nil {
			return nil, err
		}
		if ok {
			if _, err := get("merges.txt", false); err != nil {
				return nil, err
			}
		}
	}
	if _, err := get("tokenizer_config.json", true); err != nil {
		return nil, err
	}
	return files, nil
}

// modelName is the last path segment of a model URL.
func modelName(url string) string {
	url = strings.TrimRight(url, "/")
	if i := strings.LastIndexByte(url, '/'); i >= 0 {
		url = url[i+1:]
	}
	if url == "" {
		return "model"
	}
	return url
}
