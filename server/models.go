package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Limits of the /api/models listing.
const (
	maxModels      = 1000
	maxModelFiles  = 1000
	maxConfigBytes = 1 << 20
)

// ModelList is the JSON body of /api/models.
type ModelList struct {
	Models []Model `json:"models"`
}

// Model describes one checkpoint directory of the models root: a
// subdirectory holding a config.json.
type Model struct {
	Name          string      `json:"name"`
	URL           string      `json:"url"` // "/models/NAME/"
	ModelType     string      `json:"model_type,omitempty"`
	Architectures []string    `json:"architectures,omitempty"`
	Files         []ModelFile `json:"files"`
	TotalSize     int64       `json:"total_size"`
	// Config is config.json as it is, when it is valid JSON of at most
	// 1 MiB.
	Config json.RawMessage `json:"config,omitempty"`
	// Error says why config.json could not be used.
	Error string `json:"error,omitempty"`
}

// ModelFile is one servable file of a checkpoint.
type ModelFile struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
	URL  string `json:"url"`
}

// Models lists the checkpoints of the models root, sorted by name; only
// what the server would serve is listed (no hidden names, no unknown
// extensions, no links leading outside the root). A missing root gives
// an empty list.
func (h *Handler) Models() ModelList {
	list := ModelList{Models: []Model{}}
	if h.models == nil {
		return list
	}
	rt := h.models
	entries, err := rt.readDir(".")
	if err != nil {
		return list
	}
	for _, e := range entries {
		if len(list.Models) >= maxModels {
			break
		}
		name := e.Name()
		if !validName(name) || strings.HasPrefix(name, ".") {
			continue
		}
		st, err := rt.stat(name) // follows links inside the root
		if err != nil || !st.IsDir() {
			continue
		}
		cst, err := rt.stat(name + "/config.json")
		if err != nil || !cst.Mode().IsRegular() {
			continue
		}
		m := Model{Name: name, URL: "/models/" + url.PathEscape(name) + "/", Files: []ModelFile{}}
		files, _ := rt.readDir(name)
		for _, f := range files {
			if len(m.Files) >= maxModelFiles {
				break
			}
			fn := f.Name()
			if !validName(fn) || strings.HasPrefix(fn, ".") || !rt.serves(fn) {
				continue
			}
			fst, err := rt.stat(name + "/" + fn)
			if err != nil || !fst.Mode().IsRegular() {
				continue
			}
			m.Files = append(m.Files, ModelFile{Name: fn, Size: fst.Size(), URL: m.URL + url.PathEscape(fn)})
			m.TotalSize += fst.Size()
		}
		sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Name < m.Files[j].Name })
		readConfig(rt, name+"/config.json", &m)
		list.Models = append(list.Models, m)
	}
	sort.Slice(list.Models, func(i, j int) bool { return list.Models[i].Name < list.Models[j].Name })
	return list
}

// readConfig fills the config fields of m from the config.json at name.
func readConfig(rt *root, name string, m *Model) {
	f, err := rt.open(name)
	if err != nil {
		m.Error = "config.json cannot be read"
		return
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	switch {
	case err != nil:
		m.Error = "config.json cannot be read"
		return
	case len(b) > maxConfigBytes:
		m.Error = "config.json is larger than 1 MiB"
		return
	}
	var c struct {
		ModelType     string   `json:"model_type"`
		Architectures []string `json:"architectures"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		var obj map[string]json.RawMessage
		if json.Unmarshal(b, &obj) != nil {
			m.Error = "config.json is not a valid JSON object"
			return
		}
		// Valid object with unexpected field types: keep it, skip the
		// typed fields.
	}
	m.ModelType, m.Architectures = c.ModelType, c.Architectures
	m.Config = json.RawMessage(b)
}

// serveModelList answers /api/models.
func (h *Handler) serveModelList(w http.ResponseWriter, r *http.Request) {
	b, err := json.MarshalIndent(h.Models(), "", "  ")
	if err != nil {
		httpError(w, http.StatusInternalServerError, "internal error: cannot encode the model list")
		return
	}
	h.serveBytes(w, r, "models.json", append(b, '\n'), time.Time{})
}
