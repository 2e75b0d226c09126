package pylit

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want any
		err  string
	}{
		{"npy header", "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }", Dict{"descr": "<f8", "fortran_order": false, "shape": Tuple{int64(3), int64(4)}}, ""},
		{"one-tuple", "(7,)", Tuple{int64(7)}, ""},
		{"structured", "[('a', '<i4'), ('b', '<f8', (2,))]", List{Tuple{"a", "<i4"}, Tuple{"b", "<f8", Tuple{int64(2)}}}, ""},
		{"python 2 long", "3L", int64(3), ""},
		{"none and escapes", `[None, 'it\'s']`, List{nil, "it's"}, ""},
		{"duplicate key", "{'a': 1, 'a': 2}", nil, "duplicate key"},
		{"non-string key", "{1: 2}", nil, "not a string"},
		{"unterminated", "{'descr': '<f8\n", nil, "unterminated"},
		{"too deep", strings.Repeat("[", 40), nil, "nested too deep"},
		{"call", "__import__('os')", nil, "unexpected"},
		{"int overflow", "99999999999999999999", nil, "bad int"},
		{"empty", "", nil, "unexpected end"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, _, err := Parse(c.in)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("got %v, %v; want an error containing %q", v, err, c.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(v, c.want) {
				t.Fatalf("got %#v, %v; want %#v", v, err, c.want)
			}
		})
	}
}

// FuzzParse: header bytes come from untrusted files.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }", "[('a', '<i4')]", "(1,2L)", "'\\''"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, end, err := Parse(s)
		if err == nil && (end < 0 || end > len(s)) {
			t.Fatalf("end %d outside [0, %d]", end, len(s))
		}
	})
}
