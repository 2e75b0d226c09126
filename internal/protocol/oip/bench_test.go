package oip

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/protocol"
)

func smallFP32Body(n int) []byte {
	var sb strings.Builder
	sb.WriteString(`{"id":"42","inputs":[{"name":"input-0","datatype":"FP32","shape":[1,`)
	fmt.Fprint(&sb, n)
	sb.WriteString(`],"data":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, "%.6f", float64(i)*0.137-1.5)
	}
	sb.WriteString(`]}],"outputs":[{"name":"output-0"}]}`)
	return []byte(sb.String())
}

func BenchmarkDecodeInfer(b *testing.B) {
	for _, n := range []int{30, 1000, 100000} {
		body := smallFP32Body(n)
		b.Run(fmt.Sprintf("FP32x%d", n), func(b *testing.B) {
			lim := protocol.DefaultLimits()
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				var inf rampart.Inference
				if err := DecodeInfer(body, -1, lim, &inf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("INT64x30-nested", func(b *testing.B) {
		body := []byte(`{"inputs":[{"name":"ids","datatype":"INT64","shape":[2,15],"data":[[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15],[101,102,103,104,105,106,107,108,109,110,111,112,113,114,115]]}]}`)
		lim := protocol.DefaultLimits()
		b.ReportAllocs()
		for b.Loop() {
			var inf rampart.Inference
			if err := DecodeInfer(body, -1, lim, &inf); err != nil {
				b.Fatal(err)
			}
		}
	})
}
