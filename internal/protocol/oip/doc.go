// Package oip speaks the Open Inference Protocol v2 REST API (KServe,
// NVIDIA Triton, MLServer): it classifies request paths ([Route]), decodes
// inference requests once and strictly into a rampart.Inference
// ([DecodeInfer], including Triton's binary tensor extension), reads model
// metadata ([ParseModelMetadata]), checks tensors against it
// ([ValidateInputs]) and writes the protocol's error body ([WriteError]).
//
// Everything here reads untrusted bytes under protocol.Limits and returns
// *rampart.Error values whose messages are safe to show clients.
package oip
