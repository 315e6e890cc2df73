// Package pytorch finds the Python interpreter that runs the project's
// PyTorch scripts: the independent reference implementations the model
// tests compare against, and the peer of `hut bench --peers`.
package pytorch

import (
	"fmt"
	"os"
	"os/exec"
)

// Python returns the interpreter to use: Debian's /usr/bin/python3 (where
// apt's python3-torch installs) when it exists, else python3 from PATH.
func Python() string {
	const debian = "/usr/bin/python3"
	if _, err := os.Stat(debian); err == nil {
		return debian
	}
	return "python3"
}

// Find returns Python() if it can import torch, else an error saying why.
func Find() (string, error) {
	py := Python()
	if err := exec.Command(py, "-c", "import torch").Run(); err != nil {
		return "", fmt.Errorf("%s cannot import torch: %v", py, err)
	}
	return py, nil
}
