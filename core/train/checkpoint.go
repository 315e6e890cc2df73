package train

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/hutml/hut/core/safetensors"
	"github.com/hutml/hut/core/tensor"
	"github.com/hutml/hut/internal/atomicfile"
)

// A checkpoint is a directory CheckpointDir/checkpoint-NNNNNN holding the
// model side's files (adapter_config.json + adapter_model.safetensors, or a
// full model), optimizer.safetensors (AdamW's exp_avg and exp_avg_sq per
// parameter, fp32) and trainer_state.json. It is written under a temporary
// name and renamed into place, and CheckpointDir/latest names the newest
// complete one, so a crash never leaves a half-written checkpoint where a
// resume would read it.

const (
	stateFile     = "trainer_state.json"
	optimizerFile = "optimizer.safetensors"
	latestFile    = "latest"
)

type trainerState struct {
	Format     int            `json:"format"`
	GlobalStep int            `json:"global_step"`
	Config     Config         `json:"config"`
	Describe   map[string]any `json:"describe"`
}

func checkpointName(step int) string { return fmt.Sprintf("checkpoint-%06d", step) }

func saveCheckpoint(root string, step int, be tensor.Backend, names []string, params []*tensor.Param, job *Job, cfg Config) (string, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	final := filepath.Join(root, checkpointName(step))
	tmp, err := os.MkdirTemp(root, "."+checkpointName(step)+".tmp-")
	if err != nil {
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	if job.SaveModel != nil {
		if err := job.SaveModel(tmp); err != nil {
			return "", fmt.Errorf("checkpoint %s: %w", final, err)
		}
	}
	var ts []safetensors.Tensor
	for i, p := range params {
		m := make([]float32, p.Size())
		v := make([]float32, p.Size())
		be.Read(p.M, 0, m)
		be.Read(p.V, 0, v)
		ts = append(ts,
			safetensors.Tensor{Name: names[i] + ".exp_avg", Shape: p.Shape, F32: m},
			safetensors.Tensor{Name: names[i] + ".exp_avg_sq", Shape: p.Shape, F32: v})
	}
	if err := safetensors.WriteFile(filepath.Join(tmp, optimizerFile), ts, map[string]string{"step": strconv.Itoa(step)}); err != nil {
		return "", err
	}
	st, err := json.MarshalIndent(trainerState{Format: 1, GlobalStep: step, Config: cfg, Describe: job.Describe}, "", "  ")
	if err != nil {
		return "", err
	}
	if err := atomicfile.WriteBytes(filepath.Join(tmp, stateFile), append(st, '\n')); err != nil {
		return "", err
	}
	if err := os.RemoveAll(final); err != nil {
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	ok = true
	if err := atomicfile.WriteBytes(filepath.Join(root, latestFile), []byte(checkpointName(step)+"\n")); err != nil {
		return "", err
	}
	return final, nil
}

// Latest returns the newest complete checkpoint under root and its step, or
// "" when there is none.
func Latest(root string) (string, int, error) {
	if b, err := os.ReadFile(filepath.Join(root, latestFile)); err == nil {
		name := strings.TrimSpace(string(b))
		dir := filepath.Join(root, name)
		if step, err := readStep(dir); err == nil {
			return dir, step, nil
		}
	}
	ents, err := os.ReadDir(root)
	if os.IsNotExist(err) {
		return "", 0, nil
	}
	if err != nil {
		return "", 0, fmt.Errorf("checkpoint: %w", err)
	}
	best, bestStep := "", -1
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "checkpoint-") {
			continue
		}
		dir := filepath.Join(root, e.Name())
		if step, err := readStep(dir); err == nil && step > bestStep {
			best, bestStep = dir, step
		}
	}
	if best == "" {
		return "", 0, nil
	}
	return best, bestStep, nil
}

func readState(dir string) (*trainerState, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	var st trainerState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %s: %w", dir, stateFile, err)
	}
	return &st, nil
}

func readStep(dir string) (int, error) {
	st, err := readState(dir)
	if err != nil {
		return 0, err
	}
	return st.GlobalStep, nil
}

func loadCheckpoint(dir string, be tensor.Backend, names []string, params []*tensor.Param, job *Job, cfg Config) error {
	st, err := readState(dir)
	if err != nil {
		return err
	}
	// The run must be the same run: compare what shapes the trajectory.
	old := st.Config
	for _, c := range []struct {
		name     string
		got, was any
	}{
		{"steps", cfg.Steps, old.Steps}, {"grad-accum", cfg.GradAccum, old.GradAccum}, {"lr", cfg.LR, old.LR},
		{"warmup", cfg.Warmup, old.Warmup}, {"schedule", cfg.Schedule, old.Schedule}, {"weight-decay", cfg.WeightDecay, old.WeightDecay},
		{"clip", cfg.ClipNorm, old.ClipNorm}, {"seed", cfg.Seed, old.Seed},
	} {
		if c.got != c.was {
			return fmt.Errorf("checkpoint %s was written by a run with %s = %v, this run has %v: resume with the same settings or use a new --out", dir, c.name, c.was, c.got)
		}
	}
	if job.Describe != nil {
		a, _ := json.Marshal(job.Describe)
		var now map[string]any
		_ = json.Unmarshal(a, &now)
		if !reflect.DeepEqual(now, st.Describe) {
			return fmt.Errorf("checkpoint %s belongs to a different run (%v), this run is %v", dir, st.Describe, now)
		}
	}
	if job.LoadModel != nil {
		if err := job.LoadModel(dir); err != nil {
			return fmt.Errorf("checkpoint %s: %w", dir, err)
		}
	}
	f, err := safetensors.ReadFile(filepath.Join(dir, optimizerFile))
	if err != nil {
		return err
	}
	for i, p := range params {
		for _, part := range []struct {
			suffix string
			dst    tensor.Buf
		}{{".exp_avg", p.M}, {".exp_avg_sq", p.V}} {
			key := names[i] + part.suffix
			v, shape, err := f.Float32(key)
			if err != nil {
				return fmt.Errorf("checkpoint %s: %w", dir, err)
			}
			if !reflect.DeepEqual(shape, p.Shape) {
				return fmt.Errorf("checkpoint %s: optimizer tensor %q has shape %v, want %v", dir, key, shape, p.Shape)
			}
			be.Write(part.dst, 0, v)
		}
	}
	return nil
}

// prune deletes all but the newest keep checkpoints.
func prune(root string, keep int) error {
	if keep <= 0 {
		return nil
	}
	ents, err := os.ReadDir(root)
	if err != nil {
		return err
	}
	var dirs []string
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), "checkpoint-") {
			dirs = append(dirs, e.Name())
		}
	}
	sort.Strings(dirs)
	for len(dirs) > keep {
		if err := os.RemoveAll(filepath.Join(root, dirs[0])); err != nil {
			return err
		}
		dirs = dirs[1:]
	}
	return nil
}
