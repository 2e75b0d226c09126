package hdf5

import (
	"encoding/binary"
	"testing"

	"github.com/rampart-ai/rampart/internal/modelscan"
)

// superblockV1 builds, byte by byte, a file with a version 1 superblock
// (which h5py cannot be asked to write) whose root group holds one
// fixed-length string attribute.
func superblockV1(name, value string) []byte {
	le := binary.LittleEndian
	var b []byte
	b = append(b, Signature...)
	b = append(b, 1, 0, 0, 0, 0, 8, 8, 0) // versions, sizes of offsets and lengths
	b = le.AppendUint16(b, 4)             // group leaf K
	b = le.AppendUint16(b, 16)            // group internal K
	b = le.AppendUint32(b, 0)             // consistency flags
	b = le.AppendUint16(b, 32)            // indexed storage K
	b = le.AppendUint16(b, 0)
	b = le.AppendUint64(b, 0)          // base address
	b = le.AppendUint64(b, ^uint64(0)) // free space
	eofAt := len(b)
	b = le.AppendUint64(b, 0)          // end of file, patched below
	b = le.AppendUint64(b, ^uint64(0)) // driver info
	b = le.AppendUint64(b, 0)          // root entry: link name offset
	b = le.AppendUint64(b, 104)        // root object header
	b = append(b, make([]byte, 4+4+16)...)
	b = append(b, 0, 0, 0, 0) // to 104

	pad8 := func(x []byte) []byte {
		for len(x)%8 != 0 {
			x = append(x, 0)
		}
		return x
	}
	var attr []byte
	attr = append(attr, 1, 0)
	attr = le.AppendUint16(attr, uint16(len(name)+1))
	attr = le.AppendUint16(attr, 8)
	attr = le.AppendUint16(attr, 8)
	attr = append(attr, pad8(append([]byte(name), 0))...)
	attr = append(attr, 0x13, 0, 0, 0) // string, version 1, null-terminated ASCII
	attr = le.AppendUint32(attr, uint32(len(value)))
	attr = append(attr, 1, 0, 0, 0, 0, 0, 0, 0) // dataspace version 1, scalar
	attr = pad8(append(attr, value...))

	var msg []byte
	msg = le.AppendUint16(msg, 0x000C)
	msg = le.AppendUint16(msg, uint16(len(attr)))
	msg = append(msg, 0, 0, 0, 0)
	msg = append(msg, attr...)

	b = append(b, 1, 0)
	b = le.AppendUint16(b, 1) // messages
	b = le.AppendUint32(b, 1) // reference count
	b = le.AppendUint32(b, uint32(len(msg)))
	b = append(b, 0, 0, 0, 0)
	b = append(b, msg...)
	le.PutUint64(b[eofAt:], uint64(len(b)))
	return b
}

func TestSuperblockV1(t *testing.T) {
	lambda := `{"class_name": "Sequential", "config": {"layers": [{"class_name": "Lambda", "config": {}}]}}`
	benign := `{"class_name": "Sequential", "config": {"layers": [{"class_name": "Dense", "config": {"units": 1}}]}}`
	for _, tc := range []struct {
		name, attr, value string
		verdict           modelscan.Verdict
	}{
		{"lambda", "model_config", lambda, modelscan.Unsafe},
		{"benign", "model_config", benign, modelscan.Clean},
		{"training config", "training_config", lambda, modelscan.Unsafe},
		{"other attribute", "notes", lambda, modelscan.Clean},
		{"not JSON", "model_config", "{nope", modelscan.Unscannable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := superblockV1(tc.attr, tc.value)
			res := scan(t, b)
			if res.Verdict != tc.verdict {
				t.Fatalf("%s, want %s: %+v", res.Verdict, tc.verdict, res.Findings)
			}
			// One byte short of the recorded end: truncated.
			if res := scan(t, b[:len(b)-1]); res.Verdict != modelscan.Unscannable {
				t.Fatalf("truncated: %s", res.Verdict)
			}
		})
	}
}
