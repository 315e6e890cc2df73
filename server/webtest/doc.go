// Package webtest drives the browser demo (package web, served by package
// server with the engine built from ./wasm) in headless Chromium through
// chromedp: load the page, train a tiny model, check the charts and the
// teaching view, generate or classify, download the adapter and load it
// with the command line's library code. It holds tests only; see
// docs/web.md.
package webtest
