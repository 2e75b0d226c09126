//go:build !unix

package signing

import "errors"

func mkfifo(string) error { return errors.New("no FIFOs on this system") }
