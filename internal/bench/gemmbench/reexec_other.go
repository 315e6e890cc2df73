//go:build !unix

package main

import "errors"

func reexec(key, val string) error {
	return errors.New("setting " + key + " needs a Unix exec; set it in the environment instead")
}
