package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/cascade-sfu/cascade/node"
)

func init() {
	register(&command{
		name:    "version",
		summary: "print the version",
		run: func(_ context.Context, e *env, args []string) int {
			fs := newFlagSet(e, commands["version"])
			if code, done := parseFlags(fs, args); done {
				return code
			}
			fmt.Fprintln(e.stdout, versionString())
			return 0
		},
	})
}

// versionString is the version with the commit it was built from, when the build recorded it.
func versionString() string {
	// Release builds set it: -ldflags "-X github.com/cascade-sfu/cascade/node.Version=v1.2.3".
	v := node.Version
	var rev string
	dirty := false
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" {
		if dirty {
			rev += "-dirty"
		}
		v += " (" + rev + ")"
	}
	return fmt.Sprintf("cascade sfu %s %s %s/%s", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
