package oip_test

import (
	"fmt"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/protocol"
	"github.com/rampart-ai/rampart/internal/protocol/oip"
)

func ExampleDecodeInfer() {
	m, _, _ := oip.Route("POST", "/v2/models/iris/infer")
	inf := rampart.Inference{Model: m.Model, Operation: m.Operation, Action: m.Action}
	body := []byte(`{"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"data":[[5.1,3.5,1.4,"NaN"]]}]}`)
	if err := oip.DecodeInfer(body, -1, protocol.DefaultLimits(), &inf); err != nil {
		fmt.Println(err)
		return
	}
	t := inf.Tensors[0]
	fmt.Println(inf.Model, t.Name, t.Datatype, t.Shape, t.Elements, t.NaNs)

	spec := []oip.TensorSpec{{Name: "x", Datatype: "FP32", Shape: []int64{-1, 4}}}
	for _, f := range oip.ValidateInputs(&inf, spec, oip.NaNReject) {
		fmt.Println(f.Kind, f.Reason)
	}

	err := oip.DecodeInfer([]byte(`{"inputs":[{"name":"x","datatype":"INT8","shape":[2,3],"data":[1,2,3,4,5]}]}`), -1, protocol.DefaultLimits(), &inf)
	fmt.Println(rampart.ErrorCode(err), rampart.ErrorMessage(err))
	// Output:
	// iris x FP32 [1 4] 4 1
	// nan_inf input "x" holds 1 NaN and 0 infinite values
	// invalid_request input "x": shape [2,3] needs 6 elements, data has 5
}
