// Package web serves the browser client (cascade.js and its modules) and the demo
// conferencing page, embedded in the binary so a node needs no files on disk.
package web

import (
	"embed"
	"io/fs"
	"mime"
	"net/http"
	"path"
)

//go:embed static
var static embed.FS

// Files returns the embedded static files (index.html, cascade.js, ...) at their root.
func Files() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		// fs.Sub fails only on an invalid path, and "static" is a constant.
		panic(err)
	}
	return sub
}

// Handler serves the demo page at "/" and the client modules next to it. Every response
// says Cache-Control: no-cache, so browsers pick up a new build on the next load.
func Handler() http.Handler {
	files := http.FileServerFS(Files())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		if ct := contentType(r.URL.Path); ct != "" {
			h.Set("Content-Type", ct)
		}
		files.ServeHTTP(w, r)
	})
}

// contentType pins the types browsers are strict about (ES modules must be served as
// JavaScript), independent of the host's mime.types.
func contentType(p string) string {
	switch ext := path.Ext(p); ext {
	case "", ".html":
		return "text/html; charset=utf-8"
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	default:
		return mime.TypeByExtension(ext)
	}
}
