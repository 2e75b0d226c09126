//go:build !unix

package cli

import "os"

// umask: no file-creation mask outside Unix; files get 0644.
func umask() os.FileMode { return 0o022 }
