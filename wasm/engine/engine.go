// Package engine is the browser engine of hut without the browser: the
// state and the logic behind every call of the JavaScript API documented in
// docs/wasm-api.md (load a model, load a task, attach a method, train,
// evaluate, generate, classify, inspect, merge, export and import an
// adapter, benchmark), over any tensor.Backend.
//
// The package has no build tags and no syscall/js: the wasm/ main package
// binds it to JavaScript (WebGPU or the CPU backend compiled to wasm), and
// native tests run it on the CPU backend, which is also how the browser
// parity tests get their reference numbers.
//
// An Engine is not safe for concurrent use: the caller serialises calls
// (the JS glue holds one lock per call). Stop is the exception: it may be
// called at any time to end a running Step after its current step.
package engine

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/hutml/hut/core/tensor"
	"github.com/hutml/hut/core/tokenizer"
)

// ProgressFunc receives progress of long calls: what is being done
// ("config.json", "model.safetensors", "tokenising train", "step"), how
// far (done of total; total 0 when unknown) and optional extra fields.
type ProgressFunc func(what string, done, total int64, extra map[string]any)

// Engine holds one model, one task and one training run on a backend.
type Engine struct {
	be          *tracked
	backendName string
	progress    ProgressFunc
	yield       func()
	lostErr     error

	src  *modelSource // host copy of the loaded checkpoint (survives re-init)
	mdl  *model       // the model on the backend
	tok  *tokenizer.Tokenizer
	task *taskData

	run   *session // the attached method and its training state
	train TrainOptions

	stop atomic.Bool
}

// New returns an engine on be; name is what Info reports as the backend
// ("webgpu" or "cpu").
func New(be tensor.Backend, name string) *Engine {
	return &Engine{be: newTracked(be), backendName: name}
}

// SetProgress installs the progress callback (nil: none).
func (e *Engine) SetProgress(fn ProgressFunc) { e.progress = fn }

// SetYield installs a function called between training steps, so that a
// single-threaded host (wasm on the CPU backend) can process events.
func (e *Engine) SetYield(fn func()) { e.yield = fn }

// Backend returns the backend the engine computes on (wrapped for memory
// accounting; the wrapper forwards every op).
func (e *Engine) Backend() tensor.Backend { return e.be }

// BackendName returns the name given to New or SetBackend.
func (e *Engine) BackendName() string { return e.backendName }

// Stop asks a running Step to return after its current step. It is safe
// to call concurrently with Step.
func (e *Engine) Stop() bool {
	e.stop.Store(true)
	return e.run != nil && e.run.runner != nil
}

func (e *Engine) report(what string, done, total int64, extra map[string]any) {
	if e.progress != nil {
		e.progress(what, done, total, extra)
	}
}

// SetBackend moves the engine to a new backend (after hut.init). Training
// state is dropped; a loaded model is loaded again from its host copy, and
// the loaded task is kept. It returns notes for the caller.
func (e *Engine) SetBackend(be tensor.Backend, name string) ([]string, error) {
	e.closeRun()
	e.mdl = nil
	e.run = nil
	e.be = newTracked(be)
	e.backendName = name
	e.lostErr = nil
	var notes []string
	if e.src != nil {
		if err := e.buildModel(); err != nil {
			mname := e.src.name
			e.src, e.tok, e.task = nil, nil, nil
			return nil, fmt.Errorf("reloading %s onto the %s backend: %w; load it again", mname, name, err)
		}
		notes = append(notes, fmt.Sprintf("the model %s was loaded again onto the %s backend; attach a method with setup", e.src.name, name))
	}
	return notes, nil
}

// ErrDeviceLost is wrapped by the errors of calls made after the backend
// reported a lost device.
var ErrDeviceLost = errors.New("the GPU device was lost")

// SetLost marks the backend as unusable (device lost): every later call
// fails with err until SetBackend.
func (e *Engine) SetLost(err error) { e.lostErr = err }

// check returns an error when the engine cannot compute (lost device).
func (e *Engine) check() error {
	if e.lostErr != nil {
		return fmt.Errorf("%w (%v): call hut.init() to start again, on the GPU or with {backend: \"cpu\"}; export the adapter first next time", ErrDeviceLost, e.lostErr)
	}
	return nil
}

// BackendErr returns the backend's recorded asynchronous error and clears
// it when the backend can continue (a lost device cannot).
func (e *Engine) BackendErr() error {
	err := e.be.Err()
	if err == nil {
		return nil
	}
	if c, ok := e.be.Backend.(interface{ ClearErr() }); ok {
		c.ClearErr()
	}
	return err
}

// sync waits until the backend has finished the recorded work (WebGPU),
// so that timings include it.
func (e *Engine) sync() {
	if s, ok := e.be.Backend.(interface{ Sync() error }); ok {
		_ = s.Sync()
	}
}

// Info is hut.info().
func (e *Engine) Info() map[string]any {
	out := map[string]any{
		"backend":     e.backendName,
		"model":       nil,
		"method":      nil,
		"step":        0,
		"merged":      false,
		"memoryBytes": e.be.bytes,
		"task":        nil,
	}
	if e.src != nil {
		out["model"] = e.src.name
	}
	if e.mdl != nil {
		out["merged"] = e.mdl.merged()
	}
	if e.run != nil {
		out["method"] = e.run.peft.Method
		out["step"] = e.run.step
	}
	if e.task != nil {
		out["task"] = e.task.name
	}
	return out
}

// closeRun ends a paused training goroutine.
func (e *Engine) closeRun() {
	if e.run != nil {
		e.run.close()
	}
}

// Close ends the training goroutine, drops the model and frees every
// buffer the engine allocated (the backend itself is the caller's to
// close).
func (e *Engine) Close() {
	e.closeRun()
	e.run, e.mdl = nil, nil
	e.be.unpinAll()
	e.be.release()
}
