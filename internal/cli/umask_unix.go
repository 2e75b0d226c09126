//go:build unix

package cli

import (
	"os"
	"sync"
	"syscall"
)

var umaskOnce = sync.OnceValue(func() os.FileMode {
	// The only way to read the umask is to set it; set it back at once,
	// before any file is created.
	m := syscall.Umask(0o022)
	syscall.Umask(m)
	return os.FileMode(m)
})

// umask is the process's file-creation mask.
func umask() os.FileMode { return umaskOnce() }
