//go:build unix

package main

import (
	"os"
	"syscall"
)

// reexec replaces the process with itself, with key=val added to the
// environment. It returns only on failure.
func reexec(key, val string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	return syscall.Exec(exe, os.Args, append(os.Environ(), key+"="+val))
}
