package data

import (
	"archive/zip"
	"fmt"
	"io"
	"strings"
)

// Bounds on an npz archive: a zip bomb declares small sizes and inflates
// to large ones, so both the declared sizes and the bytes actually read
// are counted.
const (
	npzMaxMembers = 1000
	npzMaxBytes   = 16 << 30
)

// openNPZ reads a NumPy .npz archive (np.savez or np.savez_compressed): a
// zip of .npy members that share the first dimension. Members become
// columns in archive order; the member named by opt.Label goes last.
func openNPZ(name string, ra io.ReaderAt, size int64, opt Options) (Source, error) {
	opt = opt.WithDefaults()
	zr, err := zip.NewReader(ra, size)
	if err != nil {
		return nil, malformed(name, 0, -1, "", -1, "npz: %v", err)
	}
	if len(zr.File) == 0 {
		return nil, malformed(name, 0, -1, "", -1, "npz: the archive holds no arrays")
	}
	if len(zr.File) > npzMaxMembers {
		return nil, malformed(name, 0, -1, "", -1, "npz: %d members, more than the limit of %d", len(zr.File), npzMaxMembers)
	}
	var declared uint64
	seen := map[string]bool{}
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, ".npy") {
			return nil, malformed(name, 0, -1, "", -1, "npz: member %q is not a .npy array", f.Name)
		}
		if seen[f.Name] {
			return nil, malformed(name, 0, -1, "", -1, "npz: member %q appears twice", f.Name)
		}
		seen[f.Name] = true
		declared += f.UncompressedSize64
		if f.UncompressedSize64 > npzMaxBytes || declared > npzMaxBytes {
			return nil, malformed(name, 0, -1, "", -1, "npz: members declare more than %d bytes uncompressed", int64(npzMaxBytes))
		}
	}
	budget := &npzBudget{left: npzMaxBytes}
	fortranLeft := npyFortranLimit
	var (
		streams []*tensorStream
		shapes  [][]int64
		closers []io.Closer
		label   = -1
	)
	closeAll := func() error {
		var first error
		for _, c := range closers {
			if err := c.Close(); err != nil && first == nil {
				first = err
			}
		}
		closers = nil
		return first
	}
	fail := func(err error) (Source, error) {
		closeAll()
		return nil, err
	}
	for _, f := range zr.File {
		array := strings.TrimSuffix(f.Name, ".npy")
		rc, err := f.Open()
		if err != nil {
			return fail(malformed(name, 0, -1, "", -1, "npz member %q: %v", f.Name, err))
		}
		closers = append(closers, rc)
		cr := &npzCounted{file: name, member: f.Name, r: rc, left: int64(f.UncompressedSize64), budget: budget}
		t, shape, err := npyStream(name, array, cr, opt, int64(f.UncompressedSize64), &fortranLeft)
		if err != nil {
			return fail(err)
		}
		if array == opt.Label && opt.Label != "" {
			if len(shape) != 1 {
				return fail(&InputError{File: name, Row: -1, Offset: -1,
					Err: fmt.Errorf("label array %q has shape %v; a label array must be 1-D", array, shape)})
			}
			label = len(streams)
		}
		streams = append(streams, t)
		shapes = append(shapes, shape)
	}
	if opt.Label != "" && label < 0 {
		return fail(&InputError{File: name, Row: -1, Offset: -1,
			Err: fmt.Errorf("label array %q is not in the archive", opt.Label)})
	}
	for i := range streams[1:] {
		if streams[i+1].rows != streams[0].rows {
			return fail(malformed(name, 0, -1, "", -1, "npz: member %q has %d rows but member %q has %d; all arrays must share the first dimension",
				streams[i+1].array, streams[i+1].rows, streams[0].array, streams[0].rows))
		}
	}
	if label >= 0 {
		l, ls := streams[label], shapes[label]
		streams = append(append(streams[:label:label], streams[label+1:]...), l)
		shapes = append(append(shapes[:label:label], shapes[label+1:]...), ls)
	}
	var shape []int
	best := -1
	for i, s := range shapes {
		if len(s) > 1 && streams[i].width > best {
			best, shape = streams[i].width, intsOf(s[1:])
		}
	}
	src := newTensorSource(streams, shape, streams[0].rows, opt)
	total := 0
	for _, t := range streams {
		total += t.width
	}
	if total > opt.MaxColumns {
		return fail(&InputError{File: name, Row: -1, Offset: -1,
			Err: fmt.Errorf("npz: %d columns in all, more than the limit of %d", total, opt.MaxColumns)})
	}
	names := map[string]bool{}
	for i, t := range streams {
		for _, fd := range tensorFields(t.array, shapes[i][1:], t.dt.kind, t.width) {
			if names[fd.Name] {
				return fail(malformed(name, 0, -1, "", -1, "npz: two arrays make a column named %q", fd.Name))
			}
			names[fd.Name] = true
			src.schema.Fields = append(src.schema.Fields, fd)
		}
	}
	src.closer = closeAll
	out, err := binAdaptSchema(name, src, opt)
	if err != nil {
		return fail(err)
	}
	return out, nil
}

// npzBudget is the byte allowance shared by all members.
type npzBudget struct{ left int64 }

// npzCounted counts the bytes inflated from one member against its declared
// size and the archive's budget.
type npzCounted struct {
	file, member string
	r            io.Reader
	left         int64
	read         int64
	budget       *npzBudget
}

func (c *npzCounted) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += int64(n)
	c.left -= int64(n)
	c.budget.left -= int64(n)
	if c.left < 0 {
		return n, malformed(c.file, 0, -1, "", -1, "npz member %q inflates past its declared size", c.member)
	}
	if c.budget.left < 0 {
		return n, malformed(c.file, 0, -1, "", -1, "npz: members inflate past %d bytes", int64(npzMaxBytes))
	}
	if err != nil && err != io.EOF {
		return n, malformed(c.file, 0, -1, "", -1, "npz member %q after %d bytes: %v", c.member, c.read, err)
	}
	return n, err
}
