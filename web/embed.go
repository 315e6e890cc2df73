// Package web holds the static files of the hut browser demo (HTML,
// JavaScript, CSS, images) and embeds them, so that a built hut binary
// carries the page and `hut serve` needs nothing but the binary.
//
// Every file and folder in this directory is embedded (the pattern is "*",
// which compiles whatever the directory holds, so adding a page asset needs
// no edit here). The server only ever answers for files whose extension it
// knows (see docs/server.md), so this Go file itself is never served.
//
// Keep symbolic links out of this directory: go:embed refuses them. A
// main.wasm or wasm_exec.js placed here (both are git-ignored) is embedded
// too and serves as the fallback engine when hut serve has neither --wasm
// nor a buildable wasm package.
package web

import "embed"

// Files is the embedded content of this directory, rooted at the directory
// itself: "index.html", "app.js", "img/logo.svg", and so on.
//
//go:embed *
var Files embed.FS
